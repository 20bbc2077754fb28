"""Block-sparse self-attention on the video DiT families: exactness at density 1, real sparsity below."""

from __future__ import annotations

import pytest
import torch

import mmcache
from mmcache import ConfigError
from mmcache.methods import sparse_attention as router_module
from mmcache.pipelines.tiny import build_tiny_pipeline, generate_tiny
from mmcache.quality import psnr

# family -> frame size giving at least two 128-token blocks in the tiny pipelines
SIZES = {"wan2.1-t2v": 160, "skyreels-v2-t2v": 160, "hunyuan-video": 128, "cogvideox": 160, "ltx-video": 96,
         "flux": 128}


def bf16_pipe(family: str):
    pipe = build_tiny_pipeline(family, head_dim=32)
    return pipe.to(torch.bfloat16)


def run(pipe, family: str, steps: int = 3) -> torch.Tensor:
    return generate_tiny(pipe, family, steps=steps, height=SIZES[family], width=SIZES[family]).float()


@pytest.mark.parametrize("family", sorted(SIZES))
def test_density_one_matches_dense_attention_to_rounding(family, monkeypatch):
    errors = []
    sparse = router_module.SparseAttentionRouter._sparse

    def compare(self, q, k, v, scale, valid_keys=None):
        out = sparse(self, q, k, v, scale, valid_keys)
        keys = k.shape[2] if valid_keys is None else valid_keys
        ref = torch.nn.functional.scaled_dot_product_attention(
            q.double(), k[:, :, :keys].double(), v[:, :, :keys].double(), scale=scale)
        errors.append(((out.double() - ref).norm() / ref.norm()).item())
        return out

    monkeypatch.setattr(router_module.SparseAttentionRouter, "_sparse", compare)
    pipe = bf16_pipe(family)
    with mmcache.enabled(pipe, mmcache.SparseAttentionConfig(density=1.0)) as handle:
        run(pipe, family, steps=2)
    stats = handle.attention_stats()[0]
    assert errors and stats["sparse_calls"] == len(errors) and stats["mean_density"] == 1.0
    assert max(errors) < 1e-2, f"bf16 rounding is ~4e-3, got {max(errors)}"
    assert not stats["dense_calls"], stats


def test_pipeline_output_at_density_one_is_close_and_below_one_is_sparse():
    family = "wan2.1-t2v"
    pipe = bf16_pipe(family)
    dense = run(pipe, family)
    with mmcache.enabled(pipe, mmcache.SparseAttentionConfig(density=1.0)):
        full = run(pipe, family)
    with mmcache.enabled(pipe, mmcache.SparseAttentionConfig(density=0.25, block_size=128)) as handle:
        sparse = run(pipe, family)
    frames = lambda t: t[0].permute(0, 2, 3, 1).numpy()  # noqa: E731
    assert psnr(frames(full), frames(dense)) > 35
    assert handle.attention_stats()[0]["mean_density"] < 1.0
    assert not torch.equal(sparse, full)


def test_disable_restores_the_original_processors_and_output():
    family = "wan2.1-t2v"
    pipe = bf16_pipe(family)
    processors = {name: module.processor for name, module in pipe.transformer.named_modules()
                  if hasattr(module, "processor")}
    dense = run(pipe, family)
    with mmcache.enabled(pipe, mmcache.SparseAttentionConfig(density=0.5)):
        run(pipe, family)
    assert {name: module.processor for name, module in pipe.transformer.named_modules()
            if hasattr(module, "processor")} == processors
    assert torch.equal(run(pipe, family), dense)


def test_composes_with_easycache_and_runs_only_in_computed_forwards():
    family = "wan2.1-t2v"
    pipe = bf16_pipe(family)
    configs = (mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=2), mmcache.SparseAttentionConfig(density=0.5))
    with mmcache.enabled(pipe, *configs) as handle:
        run(pipe, family, steps=8)
    stats, attention = handle.stats(), handle.attention_stats()[0]
    assert 0 < stats.skipped < stats.calls
    self_attention_layers = len(pipe.transformer.blocks)
    assert attention["sparse_calls"] == stats.computed_forwards * self_attention_layers


def test_dense_steps_and_layers_run_dense():
    family = "wan2.1-t2v"
    pipe = bf16_pipe(family)
    with mmcache.enabled(pipe, mmcache.SparseAttentionConfig(density=0.5, dense_steps=1, dense_layers=(0,))) as h:
        run(pipe, family, steps=3)
    stats = h.attention_stats()[0]
    # 3 steps x 2 CFG branches x 2 layers = 12 calls: layer 0 always dense (6), layer 1 dense at step 0 (2),
    # layer 1 sparse afterwards (4)
    assert stats["sparse_calls"] == 4
    assert stats["dense_calls"] == {"dense layer": 6, "dense step": 2}


def test_unsupported_dtype_and_head_dim_give_clear_errors():
    family = "wan2.1-t2v"
    float32 = build_tiny_pipeline(family, head_dim=32)
    with mmcache.enabled(float32, mmcache.SparseAttentionConfig()):
        with pytest.raises(ConfigError, match="float16 or bfloat16"):
            run(float32, family, steps=1)
    small_heads = build_tiny_pipeline(family, head_dim=16).to(torch.bfloat16)
    with mmcache.enabled(small_heads, mmcache.SparseAttentionConfig()):
        with pytest.raises(ConfigError, match="head dims"):
            run(small_heads, family, steps=1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"density": 0.0}, "density must be in"),
        ({"density": 1.5}, "density must be in"),
        ({"density": 0.5, "top_p": 0.9}, "not both"),
        ({"top_p": 0.0}, "top_p must be in"),
        ({"block_size": 100}, "multiple of the kernel blocks"),
        ({"dense_steps": -1}, "dense_steps"),
        ({"backend": "cuda"}, "backend"),
    ],
)
def test_bad_config_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        mmcache.SparseAttentionConfig(**kwargs)


def test_config_round_trip_and_defaults():
    config = mmcache.SparseAttentionConfig(top_p=0.9, dense_layers=[0, 1])
    assert config.density is None and config.dense_layers == (0, 1)
    assert mmcache.MethodConfig.from_dict(config.to_dict()) == config
    assert mmcache.SparseAttentionConfig().density == 0.5


def test_families_without_self_attention_names_are_refused():
    model = torch.nn.Module()
    from diffusers import SD3Transformer2DModel

    sd3 = SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=4, num_layers=1, attention_head_dim=32,
                                num_attention_heads=1, joint_attention_dim=16, caption_projection_dim=32,
                                pooled_projection_dim=16, out_channels=4)
    del model
    with pytest.raises(ConfigError, match="no self-attention modules"):
        mmcache.enable(sd3, mmcache.SparseAttentionConfig(), num_inference_steps=2)
