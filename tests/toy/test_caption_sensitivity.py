"""The words check measures what it says: a denoiser that is exact only for the true caption, and one
that ignores the caption."""

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import WanPipeline
from mmcache.pipelines.toy.caption_sensitivity import SWAPS, caption_sensitivity, first_frame_rollout, swapped
from mmcache.pipelines.toy.captions import CaptionSpec
from mmcache.pipelines.toy.denoiser_probe import ground_truth
from mmcache.pipelines.toy.detector import score_video
from mmcache.pipelines.toy.vae_utils import decode_normalised

MODEL = Path(__file__).resolve().parents[2] / "pipelines" / "toy" / "models" / "toy-t2v"


class OracleForOneCaption(torch.nn.Module):
    """Returns the exact velocity when given the true caption states, nothing otherwise (or, with
    ``any_caption``, the exact velocity whatever the caption)."""

    def __init__(self, truth, patch_size, any_caption=False):
        super().__init__()
        self.truth, self.config = truth, type("Config", (), {"patch_size": patch_size})()
        self.any_caption = any_caption
        self.timesteps = []
        self.device, self.dtype = torch.device("cpu"), torch.float32  # what the pipeline asks its models

    def forward(self, hidden_states, timestep, encoder_hidden_states, return_dict=False):
        self.timesteps.append(timestep)
        tokens_per_frame = timestep.shape[1] // hidden_states.shape[2]
        sigma = (timestep[:, ::tokens_per_frame] / 1000.0).view(hidden_states.shape[0], 1, -1, 1, 1)
        oracle = (hidden_states - self.truth.latents) / sigma.clamp_min(1e-6)
        exact = self.any_caption or torch.equal(encoder_hidden_states, self.truth.text)
        return (oracle if exact else torch.zeros_like(hidden_states),)


@pytest.fixture(scope="module")
def pipe_and_truth():
    pipe = WanPipeline.from_pretrained(str(MODEL))
    return pipe, ground_truth(pipe, count=2)


def test_swaps_change_exactly_one_word():
    spec = CaptionSpec("purple", "triangle", "up", "gray")
    assert swapped(spec, "motion") == CaptionSpec("purple", "triangle", "down", "gray")
    assert swapped(spec, "colour") == CaptionSpec("red", "triangle", "up", "gray")
    assert swapped(spec, "shape") == CaptionSpec("purple", "circle", "up", "gray")
    with pytest.raises(ValueError, match="choose one of"):
        swapped(spec, "background")


@pytest.mark.parametrize("first_frame_given", [False, True])
def test_only_the_true_caption_is_exact(pipe_and_truth, first_frame_given):
    pipe, truth = pipe_and_truth
    oracle = OracleForOneCaption(truth, pipe.transformer.config.patch_size)
    pipe_copy = WanPipeline(**{**pipe.components, "transformer": oracle})
    (row,) = caption_sensitivity(pipe_copy, truth, [0.8], first_frame_given=first_frame_given)
    assert row["true"] == pytest.approx(0.0, abs=1e-8)
    assert all(row[name] > 0.1 for name in (*SWAPS, "empty"))
    assert len({row[name] for name in SWAPS}) == 1  # zero prediction: the same error whatever the wrong word
    frame_zero = oracle.timesteps[0][:, : oracle.timesteps[0].shape[1] // truth.latents.shape[2]]
    assert bool((frame_zero == 0).all()) == first_frame_given


def test_rollout_from_the_first_frame_scores_against_the_caption_given(pipe_and_truth):
    pipe, truth = pipe_and_truth
    oracle = OracleForOneCaption(truth, pipe.transformer.config.patch_size, any_caption=True)
    pipe_copy = WanPipeline(**{**pipe.components, "transformer": oracle})
    result = first_frame_rollout(pipe_copy, truth, steps=3, guidance_scale=5.0)
    with torch.no_grad():  # the oracle rollout ends on the clips' own latents: the VAE round trip
        round_trip = decode_normalised(pipe.vae, truth.latents)
    for name, motion_of in (("true", lambda spec: spec), ("motion_swapped", lambda spec: swapped(spec, "motion"))):
        scores = [score_video(frames, motion_of(clip.spec)) for frames, clip in zip(round_trip, truth.clips)]
        assert result[name]["direction"] == np.mean([s.direction_ok for s in scores])
    assert result["true"]["direction"] > result["motion_swapped"]["direction"]  # deaf to the motion word
