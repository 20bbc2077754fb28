"""latent_contrast: per-background structure of normalised latents."""

import pytest
import torch

from mmcache.pipelines.toy.latent_contrast import latent_contrast


def test_a_faint_object_on_a_flat_background_scores_lower_than_a_vivid_one():
    latents = torch.zeros(2, 2, 1, 4, 4)
    latents[:, 0] = 1.0  # flat backgrounds, channel 0 at 1
    latents[0, 1, 0, 1, 1] = 3.0  # vivid object
    latents[1, 1, 0, 2, 2] = 0.5  # faint object
    result = latent_contrast(latents, ["a red circle moving left on a black background",
                                       "a blue square moving up on a gray background"])
    assert result["black"]["object_peak"] == {"red": 3.0} and result["gray"]["object_peak"] == {"blue": 0.5}
    assert result["black"]["within_clip_variance"] > result["gray"]["within_clip_variance"] > 0
    assert result["gray"]["channel_means"][0] == 1.0 and result["gray"]["clips"] == 1


def test_captions_must_match_the_clips():
    with pytest.raises(ValueError, match="captions"):
        latent_contrast(torch.zeros(2, 1, 1, 2, 2), ["a red circle moving left on a black background"])
