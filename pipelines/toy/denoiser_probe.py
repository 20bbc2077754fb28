"""How good is a toy text-to-video denoiser on ground truth, noise level by noise level?

* :func:`velocity_error`: mean squared error of the predicted velocity against ``ε − x₀`` at fixed
  σ, on ground-truth clips encoded with the pipeline's own VAE and normalised the way WanPipeline
  does, conditioned on their true captions (padded to 512 positions like the pipeline).
* :func:`recovery`: noise the same clips to σ₀ and integrate the flow ODE back to σ = 0 with
  Euler steps (no guidance), then decode and score against the clip (PSNR, detector). The largest
  σ₀ from which the clip still comes back says at which noise level generation loses the object.

Both use fresh clips of the *training* captions (indices far beyond any training set), so a low
score means under-fitting or a model limit, not a failure to generalise to held-out triplets.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .configs import NUM_FRAMES, SIZE
from .data import Clip, first_clips
from .detector import score_video
from .flow import NUM_TRAIN_TIMESTEPS, noisy_and_target
from .text import PIPELINE_SEQUENCE_LENGTH
from .vae_utils import decode_normalised, encode_normalised, psnr

FIRST_UNSEEN_INDEX = 10_000_000  # clip indices of the training stream no training run reaches


@dataclasses.dataclass
class GroundTruth:
    clips: list[Clip]
    latents: torch.Tensor  # normalised ``[B, C, F, h, w]``
    text: torch.Tensor  # the pipeline's caption states ``[B, 512, D]``


def unseen_training_clips(count: int, seed: int = 0, background: str | None = None) -> list[Clip]:
    """``count`` clips of training captions that no training run has seen (indices far beyond any set),
    on ``background`` only where given."""
    return first_clips(seed, count, "train", FIRST_UNSEEN_INDEX, background, NUM_FRAMES, SIZE)


@torch.no_grad()
def ground_truth(pipe: Any, count: int, seed: int = 0, background: str | None = None) -> GroundTruth:
    """``count`` unseen clips of training captions (on ``background`` only where given), their normalised
    latents and caption states."""
    clips = unseen_training_clips(count, seed, background)
    latents = encode_normalised(pipe.vae, np.stack([clip.frames for clip in clips]))
    text, _ = pipe.encode_prompt([clip.spec.text for clip in clips], do_classifier_free_guidance=False,
                               max_sequence_length=PIPELINE_SEQUENCE_LENGTH)
    return GroundTruth(clips, latents, text)


def _velocity(pipe: Any, latents: torch.Tensor, sigma: float, text: torch.Tensor) -> torch.Tensor:
    timestep = torch.full((latents.shape[0],), sigma * NUM_TRAIN_TIMESTEPS)
    return pipe.transformer(hidden_states=latents, timestep=timestep, encoder_hidden_states=text,
                            return_dict=False)[0].float()


@torch.no_grad()
def velocity_error(pipe: Any, truth: GroundTruth, sigmas: Sequence[float], seed: int = 0) -> list[dict[str, float]]:
    """Velocity MSE per σ (the training loss restricted to one noise level; 1.0 ≈ predicting nothing)."""
    noise = torch.randn(truth.latents.shape, generator=torch.Generator().manual_seed(seed))
    results = []
    for sigma in sigmas:
        sigmas_batch = torch.full((truth.latents.shape[0],), float(sigma))
        noisy, target = noisy_and_target(truth.latents, noise, sigmas_batch)
        error = (_velocity(pipe, noisy, float(sigma), truth.text) - target).pow(2).mean()
        results.append({"sigma": float(sigma), "velocity_mse": float(error)})
    return results


def euler(latents: torch.Tensor, sigmas: Sequence[float],
          velocity: Callable[[torch.Tensor, float], torch.Tensor], kept_frames: int = 0) -> torch.Tensor:
    """Integrate the flow ODE along ``sigmas`` with Euler steps; the first ``kept_frames`` latent frames stay as given."""
    latents = latents.clone()
    for current, following in itertools.pairwise(sigmas):
        latents[:, :, kept_frames:] += (following - current) * velocity(latents, current)[:, :, kept_frames:]
    return latents


@torch.no_grad()
def recovery(pipe: Any, truth: GroundTruth, starts: Sequence[float], steps: int = 30,
             seed: int = 0) -> list[dict[str, float]]:
    """From σ₀ in ``starts``: Euler-integrate the flow back to 0, decode, score against the clips."""
    noise = torch.randn(truth.latents.shape, generator=torch.Generator().manual_seed(seed + 1))
    results = []
    for start in starts:
        sigmas = torch.linspace(float(start), 0.0, steps + 1).tolist()
        noisy = (1 - sigmas[0]) * truth.latents + sigmas[0] * noise
        latents = euler(noisy, sigmas, lambda x, sigma: _velocity(pipe, x, sigma, truth.text))
        results.append({"start_sigma": float(start), **score_against(truth.clips, decode_normalised(pipe.vae, latents)),
                        "steps": steps})
    return results


def score_against(clips: Sequence[Clip], decoded: np.ndarray) -> dict[str, float]:
    """Mean PSNR and detector colour / direction rates of decoded videos against their ground-truth clips."""
    return {"psnr_db": float(np.mean([psnr(c.frames, f) for c, f in zip(clips, decoded)])),
            **detector_rates(decoded, [clip.spec for clip in clips]), "clips": len(clips)}


def detector_rates(decoded: np.ndarray, specs: Sequence[Any]) -> dict[str, float]:
    """Share of decoded videos whose colour / direction the detector finds right for their captions."""
    scores = [score_video(frames, spec) for frames, spec in zip(decoded, specs)]
    return {"colour": float(np.mean([s.colour_ok for s in scores])),
            "direction": float(np.mean([s.direction_ok for s in scores]))}
