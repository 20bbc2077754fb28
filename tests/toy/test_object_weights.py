"""Object-token loss weights: background at 1, a faint object charged more than a vivid one."""

import pytest
import torch

from mmcache.pipelines.toy.denoiser import flow_loss
from mmcache.pipelines.toy.object_weights import background_deviation, object_token_weights


def _clips(amplitudes: list[float]) -> torch.Tensor:
    """``[N, 2, 3, 8, 8]`` latents: a flat background per clip and a 2×2 object of the given amplitude."""
    latents = torch.zeros(len(amplitudes), 2, 3, 8, 8)
    latents += torch.arange(len(amplitudes), dtype=torch.float32)[:, None, None, None, None]  # backgrounds differ
    for n, amplitude in enumerate(amplitudes):
        latents[n, 0, :, 2:4, 5:7] += amplitude
    return latents


def test_deviation_is_zero_on_the_background_and_the_amplitude_on_the_object():
    deviation = background_deviation(_clips([3.0]))
    assert deviation.shape == (1, 3, 8, 8)
    assert torch.allclose(deviation[0, :, 2:4, 5:7], torch.full((3, 2, 2), 3.0))
    deviation[0, :, 2:4, 5:7] = 0
    assert deviation.abs().max() == 0


def test_a_faint_object_gets_the_squared_contrast_ratio_and_the_background_stays_at_one():
    weights = object_token_weights(_clips([1.0, 4.0]), strength=0.5, reference=4.0)
    assert torch.allclose(weights[1, :, 2:4, 5:7], torch.full((3, 2, 2), 1.5))
    assert torch.allclose(weights[0, :, 2:4, 5:7], torch.full((3, 2, 2), 1 + 0.5 * 16))
    weights[:, :, 2:4, 5:7] = 1
    assert torch.equal(weights, torch.ones_like(weights))


def test_the_boost_is_capped_and_the_reference_defaults_to_the_median_peak():
    weights = object_token_weights(_clips([0.1, 2.0, 2.0]), strength=1.0, cap=4.0)
    assert weights[0].max() == pytest.approx(5.0)  # (2 / 0.1)² = 400, capped at 4
    assert weights[1].max() == pytest.approx(2.0)  # the median object: 1 + strength


def test_strength_zero_is_all_ones_and_a_negative_strength_is_refused():
    assert torch.equal(object_token_weights(_clips([1.0]), 0.0), torch.ones(1, 3, 8, 8))
    with pytest.raises(ValueError, match="non-negative"):
        object_token_weights(_clips([1.0]), -1.0)


def test_flow_loss_with_unit_token_weights_equals_the_unweighted_loss_and_weights_count():
    generator = torch.Generator().manual_seed(0)
    prediction, target = torch.randn(2, 4, 3, 8, 8, generator=generator), torch.randn(2, 4, 3, 8, 8, generator=generator)
    frames = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    plain = flow_loss(prediction, target, frames)
    assert torch.allclose(flow_loss(prediction, target, frames, torch.ones(2, 3, 8, 8)), plain)
    assert torch.allclose(flow_loss(prediction, target, frames, torch.full((2, 3, 8, 8), 2.0)), 2 * plain)
    tokens = torch.ones(2, 3, 8, 8)
    tokens[0, 1] = 100.0  # a frame excluded by its frame weight stays excluded
    assert torch.allclose(flow_loss(prediction, target, frames, tokens), plain)
