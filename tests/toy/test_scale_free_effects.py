"""Word effects per unit of structure: a model that knows a clip exactly under the true caption and only its
mean under a wrong one scores 1 whatever the latents' scale, and a fainter clip gets a lower SNR."""

import pytest
import torch
from mmcache.pipelines.toy.caption_sensitivity import SWAPS, scale_free_effects
from mmcache.pipelines.toy.latent_contrast import within_clip_variance


def rows_for(latents: torch.Tensor, sigma: float) -> list[dict[str, float]]:
    """Velocity errors of the exact model (true caption) and of one that knows only each clip's mean."""
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(1))
    noisy = (1 - sigma) * latents + sigma * noise
    target = noise - latents
    mean_only = latents.mean(dim=(2, 3, 4), keepdim=True).expand_as(latents)
    wrong = ((noisy - mean_only) / sigma - target).pow(2).mean().item()
    return [{"sigma": sigma, "true": 0.0, **{word: wrong for word in (*SWAPS, "empty")}}]


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_an_ideal_model_scores_one_at_any_scale(scale):
    latents = scale * torch.randn(4, 3, 2, 5, 5, generator=torch.Generator().manual_seed(0)) + 0.7
    variance = float(within_clip_variance(latents).mean())
    for sigma in (0.3, 0.9):
        (row,) = scale_free_effects(rows_for(latents, sigma), variance)
        assert row["motion"] == pytest.approx(1.0, rel=1e-4)
        assert row["snr"] == pytest.approx(((1 - sigma) / sigma) ** 2 * variance)


def test_fainter_clips_have_lower_snr_and_the_same_effect():
    base = torch.randn(4, 3, 2, 5, 5, generator=torch.Generator().manual_seed(2))
    faint, strong = 0.5 * base, 2.0 * base
    v_faint, v_strong = (float(within_clip_variance(x).mean()) for x in (faint, strong))
    (row_faint,) = scale_free_effects(rows_for(faint, 0.8), v_faint)
    (row_strong,) = scale_free_effects(rows_for(strong, 0.8), v_strong)
    assert row_strong["snr"] == pytest.approx(16 * row_faint["snr"])
    assert row_strong["colour"] == pytest.approx(row_faint["colour"], rel=1e-4)


def test_a_hand_computed_row_and_a_bad_variance():
    row = {"sigma": 0.5, "true": 0.1, "motion": 0.3, "colour": 0.1, "shape": 0.2, "empty": 0.5}
    (out,) = scale_free_effects([row], 0.25)
    assert out == pytest.approx({"sigma": 0.5, "snr": 0.25, "motion": 0.2, "colour": 0.0, "shape": 0.1, "empty": 0.4})
    with pytest.raises(ValueError, match="positive"):
        scale_free_effects([row], 0.0)
