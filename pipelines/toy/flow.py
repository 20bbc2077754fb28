"""Rectified-flow training targets in Wan's conventions.

``x_σ = (1 - σ)·x₀ + σ·ε``, the denoiser sees ``timestep = 1000·σ`` and predicts the velocity
``ε - x₀`` (``prediction_type="flow_prediction"`` of the UniPC / flow-match schedulers).
Training σ are drawn uniformly and then shifted like the inference schedule
(``σ' = s·σ / (1 + (s - 1)·σ)``), so the steps the sampler takes are the ones trained most.
"""

from __future__ import annotations

import numpy as np
import torch

NUM_TRAIN_TIMESTEPS = 1000


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def sample_sigmas(shape: tuple[int, ...], shift: float, generator: torch.Generator) -> torch.Tensor:
    """σ in (0, 1), shifted towards high noise."""
    uniform = torch.rand(shape, generator=generator).clamp(1e-4, 1 - 1e-4)
    return shift_sigmas(uniform, shift)


def noisy_and_target(clean: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Noised latents and the velocity target. ``sigmas`` broadcast over ``[B, C, F, H, W]``:
    shape ``[B]`` (one level per clip) or ``[B, F]`` (one level per latent frame)."""
    if sigmas.ndim == 1:
        s = sigmas.view(-1, 1, 1, 1, 1)
    else:
        s = sigmas.view(sigmas.shape[0], 1, sigmas.shape[1], 1, 1)
    return (1 - s) * clean + s * noise, noise - clean


def sigmas_with_clean_first_frame(sigmas: torch.Tensor, frames: int, given: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame σ ``[B, frames]`` and loss weights: the clip's σ everywhere, except σ 0 and weight 0 on
    the first frame of the samples where ``given`` (boolean ``[B]``)."""
    per_frame = sigmas[:, None].repeat(1, frames)
    weight = torch.ones(len(sigmas), frames)
    rows = torch.from_numpy(np.asarray(given, dtype=bool))
    per_frame[rows, 0] = 0.0
    weight[rows, 0] = 0.0
    return per_frame, weight
