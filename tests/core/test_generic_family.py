"""A diffusers transformer that no adapter lists is served by the generic path."""

from __future__ import annotations

import torch
from diffusers import SD3Transformer2DModel

import mmcache


def tiny_sd3() -> SD3Transformer2DModel:
    torch.manual_seed(0)
    return SD3Transformer2DModel(
        sample_size=8, patch_size=2, in_channels=4, num_layers=2, attention_head_dim=8, num_attention_heads=2,
        joint_attention_dim=16, caption_projection_dim=16, pooled_projection_dim=16, out_channels=4,
    ).eval()


@torch.no_grad()
def denoise(model: SD3Transformer2DModel, steps: int = 10) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(1, 4, 8, 8, generator=generator)
    text = torch.randn(1, 5, 16, generator=generator)
    pooled = torch.randn(1, 16, generator=generator)
    sigmas = torch.linspace(1, 0, steps + 1)
    for i in range(steps):
        velocity = model(hidden_states=latents, encoder_hidden_states=text, pooled_projections=pooled,
                         timestep=(sigmas[i] * 1000).expand(1), return_dict=False)[0]
        latents = latents + (sigmas[i + 1] - sigmas[i]) * velocity
    return latents


def test_generic_adapter_is_chosen_and_never_reusing_is_bit_identical():
    model = tiny_sd3()
    baseline = denoise(model)
    with mmcache.enabled(model, mmcache.EasyCacheConfig(threshold=0.0, warmup_steps=2),
                         num_inference_steps=10) as handle:
        assert torch.equal(denoise(model), baseline)
    assert handle.family == "generic:SD3Transformer2DModel"
    assert handle.stats().calls == 10 and handle.stats().skipped == 0
    assert set(handle.stats().branches) == {"main"}
    with mmcache.enabled(model, mmcache.EasyCacheConfig(threshold=2.0, warmup_steps=2),
                         num_inference_steps=10) as handle:
        cached = denoise(model)
    assert handle.stats().skipped > 0 and not torch.equal(cached, baseline)
    assert torch.equal(denoise(model), baseline)
