"""Per-frame noise levels for diffusion-forcing training: a mixture of the patterns the sampler shows the model.

SkyReelsV2DiffusionForcingPipeline calls the transformer with one noise level per latent frame. The
mixture drawn here covers those calls:

* independent: every frame its own σ (plain diffusion forcing);
* shared: one σ for all frames (synchronous sampling, ``ar_step`` 0);
* prefix: the first 1-4 frames clean (σ = 0, or the small σ of ``addnoise_condition``), the rest
  at one σ (continuing a long video from ``overlap_history`` frames); clean frames get no loss;
* monotone: independent σ sorted so later frames are noisier (asynchronous sampling, loosely);
* staircase: the sampler's own asynchronous pattern. Frame ``i`` is ``lag`` sampler steps behind frame
  ``i - 1`` on the shifted schedule of ``num_inference_steps`` steps; frames not started yet are pure
  noise, finished ones clean (no loss). Half the time after a clean prefix, as in a long video's later
  windows. This is how toy-df starts every video with ``ar_step`` > 0.

A block-causal model (toy-ar, ``causal_block_size`` 2) is called with one level per block of latent
frames: the same patterns, drawn per block and shared by the block's frames.
"""

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
    """``weights`` (one per mode of ``MODES``) normalised to sum 1; a clear error if they cannot be."""
    values = tuple(float(w) for w in weights)
    if len(values) != len(MODES):
        raise ValueError(f"--mode-weights takes {len(MODES)} numbers, one per mode {MODES}; got {len(values)}.")
    if any(w < 0 for w in values) or sum(values) <= 0:
        raise ValueError(f"--mode-weights must be non-negative with a positive sum; got {values}.")
    total = sum(values)
    return tuple(w / total for w in values)


@lru_cache(maxsize=None)
def sampler_sigmas(steps: int, shift: float) -> torch.Tensor:
    """σ of a sampler row index: 0 = not started (pure noise, 1), ``1..steps`` = the schedule's σ the model is
    called at, ``steps + 1`` = finished (clean, 0). Matches ``generate_timestep_matrix``'s step template.
    Cached (a few schedules, drawn for many samples per batch): index it, never modify it in place."""
    scheduler = build_scheduler(shift)
    scheduler.set_timesteps(steps)
    schedule = scheduler.sigmas[:steps].float()
    return torch.cat([torch.ones(1), schedule, torch.zeros(1)])


def staircase_sigmas(rng: np.random.Generator, frames: int, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One asynchronous-sampler pattern (see the module docstring) and its loss weights."""
    steps = int(rng.choice(STAIRCASE_STEPS))
    lag = int(rng.choice(STAIRCASE_LAGS))
    prefix = min(int(rng.integers(1, MAX_PREFIX)), frames - 1) if rng.random() < 0.5 else 0
    levels = sampler_sigmas(steps, shift)
    moving = frames - prefix
    # The first moving frame's row, so that at least the last frame still needs denoising (row <= steps).
    first_row = int(rng.integers(1, steps + lag * (moving - 1) + 1))
    rows = [min(max(first_row - lag * i, 0), steps + 1) for i in range(moving)]
    sigmas = torch.cat([torch.zeros(prefix), levels[rows]])
    weight = (sigmas > 0).float()
    return sigmas, weight


def frame_sigmas(rng: np.random.Generator, draws: torch.Tensor, frames: int, weights: Sequence[float] = MODE_WEIGHTS,
                 shift: float = FLOW_SHIFT, block: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame σ ``[frames]`` and loss weights for one sample; ``draws`` are shifted uniform σ values,
    ``weights`` the probability of each mode of ``MODES``, ``shift`` the sampler's (for ``staircase``), and
    ``block`` the latent frames that share one level (``frames`` a multiple of it)."""
    if block > 1:
        sigmas, weight = frame_sigmas(rng, draws, frames // block, weights, shift)
        return sigmas.repeat_interleave(block), weight.repeat_interleave(block)
    mode = rng.choice(MODES, p=weights)
    sigmas = draws[:frames].clone()
    weight = torch.ones(frames)
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
    """Window offsets with every window whose first latent frame carries a loss moved to the clip's start.

    The VAE encodes a clip's first latent frame from one pixel frame and every later one from four, and
    the pipeline decodes a video's first latent frame the one-frame way. A window cut from the middle of a
    clip teaches the model to draw a four-frame latent there, which decodes with a colour cast. Windows
    whose first frame is a clean prefix (no loss) keep their offset: they are how a long video continues.
    ``loss_weights``: ``[batch, frames]``, one row per window.
    """
    starts_video = loss_weights[:, 0] > 0.0
    return np.where(starts_video.numpy(), 0, offsets)
