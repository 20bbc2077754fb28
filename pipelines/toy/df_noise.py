"""Per-frame noise levels for diffusion-forcing training, a mixture of the patterns the sampler shows the model:
``independent`` σ; one ``shared`` σ; a clean ``prefix`` of 1-4 frames (σ 0 or ``addnoise_condition``'s small σ)
before one σ (a continued long video); ``monotone`` (sorted) σ; the asynchronous sampler's ``staircase`` (each frame
``lag`` steps behind the last, sometimes after a clean prefix). Clean frames get no loss; toy-ar draws per block."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

from .configs import FLOW_SHIFT, build_scheduler

MODES = ("independent", "shared", "prefix", "monotone", "staircase")
# The default mixture (no staircase); ``train df --mode-weights`` sets another (the recipes use both).
MODE_WEIGHTS = (0.35, 0.25, 0.30, 0.10, 0.0)
MAX_PREFIX = 4
MAX_CONDITION_SIGMA = 0.05
STAIRCASE_LAGS = (1, 2, 3, 4, 5)
STAIRCASE_STEPS = (20, 30, 50)


def check_mode_weights(weights: Sequence[float]) -> tuple[float, ...]:
    """``weights`` (one per mode) normalised to sum 1; a clear error if they cannot be."""
    values = tuple(float(w) for w in weights)
    if any(w < 0 for w in values) or sum(values) <= 0:
        raise SystemExit(f"--mode-weights must be non-negative with a positive sum; got {values}.")
    return tuple(w / sum(values) for w in values)


@lru_cache(maxsize=None)
def sampler_sigmas(steps: int, shift: float) -> torch.Tensor:
    """σ by ``generate_timestep_matrix``'s row index: 0 not started (σ 1), 1..steps, steps + 1 done (σ 0). Cached."""
    scheduler = build_scheduler(shift)
    scheduler.set_timesteps(steps)
    return torch.cat([torch.ones(1), scheduler.sigmas[:steps].float(), torch.zeros(1)])


def staircase_sigmas(rng: np.random.Generator, frames: int, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One asynchronous-sampler pattern and its loss weights."""
    steps, lag = int(rng.choice(STAIRCASE_STEPS)), int(rng.choice(STAIRCASE_LAGS))
    prefix = min(int(rng.integers(1, MAX_PREFIX)), frames - 1) if rng.random() < 0.5 else 0
    moving = frames - prefix
    # The first moving frame's row, so that at least the last frame still needs denoising (row <= steps).
    first_row = int(rng.integers(1, steps + lag * (moving - 1) + 1))
    rows = [min(max(first_row - lag * i, 0), steps + 1) for i in range(moving)]
    sigmas = torch.cat([torch.zeros(prefix), sampler_sigmas(steps, shift)[rows]])
    return sigmas, (sigmas > 0).float()


def frame_sigmas(rng: np.random.Generator, draws: torch.Tensor, frames: int, weights: Sequence[float] = MODE_WEIGHTS,
                 shift: float = FLOW_SHIFT, block: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame σ ``[frames]`` and loss weights of one sample, from shifted uniform ``draws``; ``weights`` are the
    modes' probabilities, ``block`` the latent frames that share a level."""
    if block > 1:
        sigmas, weight = frame_sigmas(rng, draws, frames // block, weights, shift)
        return sigmas.repeat_interleave(block), weight.repeat_interleave(block)
    mode = rng.choice(MODES, p=weights)
    sigmas, weight = draws[:frames].clone(), torch.ones(frames)
    if mode == "shared":
        sigmas[:] = draws[0]
    elif mode == "monotone":
        sigmas = torch.sort(sigmas).values
    elif mode == "prefix":
        k = min(int(rng.integers(1, MAX_PREFIX + 1)), frames - 1)
        sigmas[:] = draws[0]
        condition = 0.0 if rng.random() < 0.7 else float(rng.uniform(0, MAX_CONDITION_SIGMA))
        sigmas[:k] = condition
        if condition == 0.0:
            weight[:k] = 0.0
    elif mode == "staircase":
        sigmas, weight = staircase_sigmas(rng, frames, shift)
    return sigmas, weight


def clip_start_offsets(offsets: np.ndarray, loss_weights: torch.Tensor) -> np.ndarray:
    """Window offsets, with every window whose first latent frame carries a loss moved to the clip's start (the
    VAE encodes a clip's first latent frame from one pixel frame, later ones from four); windows starting with a
    clean prefix keep theirs: they are how a long video continues."""
    return np.where((loss_weights[:, 0] > 0.0).numpy(), 0, offsets)
