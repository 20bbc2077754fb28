"""The denoiser probe measures what it says: exact numbers for a zero and for an oracle denoiser."""

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import WanPipeline
from mmcache.pipelines.toy.denoiser_probe import ground_truth, recovery, velocity_error
from mmcache.pipelines.toy.vae_utils import reconstruction_psnr

MODEL = Path(__file__).resolve().parents[2] / "pipelines" / "toy" / "models" / "toy-t2v"


class ScriptedTransformer(torch.nn.Module):
    """Stands in for the transformer: returns ``velocity(hidden_states, sigma)``."""

    def __init__(self, velocity):
        super().__init__()
        self.velocity = velocity

    def forward(self, hidden_states, timestep, encoder_hidden_states, return_dict=False):
        assert encoder_hidden_states.shape[:2] == (hidden_states.shape[0], 512)
        return (self.velocity(hidden_states, float(timestep[0]) / 1000.0),)


@pytest.fixture(scope="module")
def pipe_and_truth():
    pipe = WanPipeline.from_pretrained(str(MODEL))
    return pipe, ground_truth(pipe, count=2)


def test_a_denoiser_that_predicts_nothing_scores_the_target_energy(pipe_and_truth):
    pipe, truth = pipe_and_truth
    pipe.transformer = ScriptedTransformer(lambda x, sigma: torch.zeros_like(x))
    (result,) = velocity_error(pipe, truth, [0.5], seed=3)
    noise = torch.randn(truth.latents.shape, generator=torch.Generator().manual_seed(3))
    assert result["velocity_mse"] == pytest.approx(float((noise - truth.latents).pow(2).mean()), rel=1e-5)


def test_an_oracle_denoiser_recovers_the_clips_up_to_the_vae(pipe_and_truth):
    pipe, truth = pipe_and_truth
    pipe.transformer = ScriptedTransformer(lambda x, sigma: (x - truth.latents) / sigma)
    (result,) = recovery(pipe, truth, [1.0], steps=3)
    frames = np.stack([clip.frames for clip in truth.clips])
    assert result["psnr_db"] == pytest.approx(float(np.mean(reconstruction_psnr(pipe.vae, frames))), abs=0.05)
    wrong = ScriptedTransformer(lambda x, sigma: (x - truth.latents.flip(0)) / sigma)
    pipe.transformer = wrong  # each clip pulled to the other clip's latents
    (swapped,) = recovery(pipe, truth, [1.0], steps=3)
    assert swapped["psnr_db"] < result["psnr_db"] - 3.0
