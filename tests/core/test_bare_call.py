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
