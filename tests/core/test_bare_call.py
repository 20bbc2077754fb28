"""A bundled pipeline called with only a prompt generates at the size it was trained for."""

from __future__ import annotations

import torch

import mmcache
from mmcache.pipelines import load


def test_bundled_pipeline_called_bare_uses_its_trained_size():
    pipe = load("toy-t2v", device="cpu")
    latents = pipe("a red circle moving left on a black background", num_inference_steps=2, output_type="latent",
                   generator=torch.Generator().manual_seed(0)).frames
    assert tuple(latents.shape[-3:]) == (5, 16, 16)  # 17 frames of 64×64 through the VAE
    assert type(pipe).__name__ == "WanPipeline" and pipe.mmcache_call_defaults["height"] == 64


def test_given_arguments_win_and_positional_ones_are_not_repeated():
    pipe = load("toy-t2v", device="cpu")
    latents = pipe("a red circle", "", height=32, width=32, num_frames=5, num_inference_steps=1,
                   output_type="latent").frames
    assert tuple(latents.shape[-3:]) == (2, 8, 8)


def test_methods_still_resolve_the_family():
    pipe = load("toy-t2v", device="cpu")
    with mmcache.enabled(pipe, mmcache.EasyCacheConfig(threshold=0)) as handle:
        pipe("a blue square", num_inference_steps=2, output_type="latent")
    assert handle.family == "wan" and handle.history[-1].computed == 4


def test_a_block_causal_model_makes_lengths_that_are_not_whole_blocks_by_cropping():
    from mmcache.pipelines.call_defaults import with_call_defaults
    from mmcache.pipelines.tiny import build_tiny_pipeline, tiny_call_kwargs
    from mmcache.pipelines.whole_blocks import whole_block_frames

    assert [whole_block_frames(n, 2) for n in (41, 45, 81, 161, 17)] == [45, 45, 85, 165, 21]
    pipe = build_tiny_pipeline("skyreels-v2-df-causal")
    kwargs = {key: value for key, value in tiny_call_kwargs("skyreels-v2-df-causal", 2).items()
              if key not in ("num_frames", "output_type")}
    with_call_defaults(pipe, {"extra": {"causal_block_size": 2}})
    whole = pipe(**kwargs, num_frames=29, output_type="np", generator=torch.Generator().manual_seed(0)).frames
    cropped = pipe(**kwargs, num_frames=25, output_type="np", generator=torch.Generator().manual_seed(0)).frames
    assert cropped.shape[1] == 25 and (cropped == whole[:, :25]).all()
    latents = pipe(**kwargs, num_frames=25, output_type="latent").frames
    assert latents.shape[2] == 7
