"""Does the denoiser use each word of its caption? Velocity error with one word swapped.

On ground-truth clips of training captions (``denoiser_probe.ground_truth``), the velocity error
at a noise level is measured with the true caption, then with the caption whose motion, colour or
shape is replaced by a wrong one, and with the empty caption. A word the model uses raises the error
when it is wrong; a word it ignores leaves the error unchanged. The swap is the same for every clip
(opposite motion, the next colour, the next shape), so the comparison is paired: same clips, same
noise, only the caption differs.

Optionally the first latent frame is given clean (timestep 0 on its tokens, Wan 2.2's per-token
timesteps, no error counted on it): the object's position is then known and only the motion word
says where it goes, the most direct test of whether direction is understood.

:func:`first_frame_rollout` turns the same question into videos: the first latent frame of each
clip is kept, the later ones are generated from noise (Euler, classifier-free guidance), once with
the true caption and once with the motion swapped, and the detector checks whether the object moves
the way the given caption says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .captions import COLOURS, SHAPES, CaptionSpec
from .denoiser import model_timesteps
from .denoiser_probe import detector_rates, euler
from .flow import noisy_and_target, sigmas_with_clean_first_frame
from .text import PIPELINE_SEQUENCE_LENGTH
from .vae_utils import decode_normalised

OPPOSITE_MOTION = {"left": "right", "right": "left", "up": "down", "down": "up"}
SWAPS = ("motion", "colour", "shape")


def swapped(spec: CaptionSpec, word: str) -> CaptionSpec:
    """``spec`` with ``word`` (motion, colour or shape) replaced by a fixed wrong value."""
    if word == "motion":
        return dataclasses.replace(spec, motion=OPPOSITE_MOTION[spec.motion])
    if word == "colour":
        colours = list(COLOURS)
        return dataclasses.replace(spec, colour=colours[(colours.index(spec.colour) + 1) % len(colours)])
    if word == "shape":
        return dataclasses.replace(spec, shape=SHAPES[(SHAPES.index(spec.shape) + 1) % len(SHAPES)])
    raise ValueError(f"Unknown word {word!r}; choose one of {SWAPS}.")


def _timesteps(pipe: Any, latents: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Per-token timesteps for per-frame σ ``[B, F]`` (the training loop's conversion)."""
    return model_timesteps(sigmas, latents.shape, tuple(pipe.transformer.config.patch_size), diffusion_forcing=False)


def caption_states(pipe: Any, texts: list[str]) -> torch.Tensor:
    """The text-encoder states the pipeline gives its transformer for ``texts`` (no CFG branch)."""
    return pipe.encode_prompt(texts, do_classifier_free_guidance=False, max_sequence_length=PIPELINE_SEQUENCE_LENGTH)[0]


@torch.no_grad()
def caption_sensitivity(pipe: Any, truth: Any, sigmas: Sequence[float], first_frame_given: bool = False,
                        seed: int = 0) -> list[dict[str, float]]:
    """Per σ: velocity MSE with the true caption, each swapped word and the empty caption."""
    specs = [clip.spec for clip in truth.clips]
    captions = {"true": [s.text for s in specs], **{w: [swapped(s, w).text for s in specs] for w in SWAPS},
                "empty": [""] * len(specs)}
    states = {name: caption_states(pipe, texts) for name, texts in captions.items()}
    noise = torch.randn(truth.latents.shape, generator=torch.Generator().manual_seed(seed))
    batch, frames = truth.latents.shape[0], truth.latents.shape[2]
    first = 1 if first_frame_given else 0
    results = []
    for sigma in sigmas:
        per_frame, _ = sigmas_with_clean_first_frame(torch.full((batch,), float(sigma)), frames,
                                                     np.full(batch, first_frame_given))
        noisy, target = noisy_and_target(truth.latents, noise, per_frame)
        timestep = _timesteps(pipe, truth.latents, per_frame)
        row: dict[str, float] = {"sigma": float(sigma)}
        for name, text in states.items():
            prediction = pipe.transformer(hidden_states=noisy, timestep=timestep, encoder_hidden_states=text,
                                          return_dict=False)[0].float()
            row[name] = float((prediction - target)[:, :, first:].pow(2).mean())
        results.append(row)
    return results


def scale_free_effects(rows: Sequence[dict[str, float]], variance: float) -> list[dict[str, float]]:
    """:func:`caption_sensitivity` rows (all frames noised) in units of the clips' own structure.

    A wrong caption moves the ideal velocity by ``(E[x0 | x_t, wrong] - E[x0 | x_t, true]) / σ``, which
    grows with the size of what there is to draw, the clips' within-clip latent ``variance`` v. So each
    word's error increase times σ² / v is the effect per unit of structure, and ``snr`` = ((1 - σ) / σ)² v
    is how much of that structure the noisy input still shows. Clips whose effect is lower than other
    clips' *at the same snr* are learned worse, not just fainter.
    """
    if variance <= 0:
        raise ValueError(f"The within-clip variance must be positive, got {variance}.")
    results = []
    for row in rows:
        sigma = row["sigma"]
        scale = sigma * sigma / variance
        results.append({"sigma": sigma, "snr": ((1.0 - sigma) / sigma) ** 2 * variance,
                        **{word: (row[word] - row["true"]) * scale for word in (*SWAPS, "empty")}})
    return results


def _first_frame_given_velocity(pipe: Any, text: torch.Tensor, empty: torch.Tensor,
                                guidance_scale: float) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """Guided velocity of every latent frame at σ, with the first frame's tokens at timestep 0 (the caller
    keeps that frame fixed)."""
    def velocity(latents: torch.Tensor, sigma: float) -> torch.Tensor:
        batch, frames = latents.shape[0], latents.shape[2]
        per_frame, _ = sigmas_with_clean_first_frame(torch.full((batch,), sigma), frames, np.ones(batch, dtype=bool))
        timestep = _timesteps(pipe, latents, per_frame)
        conditional = pipe.transformer(hidden_states=latents, timestep=timestep, encoder_hidden_states=text,
                                       return_dict=False)[0].float()
        if guidance_scale == 1.0:
            return conditional
        unconditional = pipe.transformer(hidden_states=latents, timestep=timestep, encoder_hidden_states=empty,
                                         return_dict=False)[0].float()
        return unconditional + guidance_scale * (conditional - unconditional)
    return velocity


@torch.no_grad()
def first_frame_rollout(pipe: Any, truth: Any, steps: int = 30, guidance_scale: float = 5.0,
                        seed: int = 0) -> dict[str, dict[str, float]]:
    """Keep each clip's first latent frame, generate the rest; detector rates against the caption given
    (the true one, and the one with the opposite motion)."""
    specs = {"true": [clip.spec for clip in truth.clips],
             "motion_swapped": [swapped(clip.spec, "motion") for clip in truth.clips]}
    empty = caption_states(pipe, [""] * len(truth.clips))
    noise = torch.randn(truth.latents.shape, generator=torch.Generator().manual_seed(seed))
    sigmas = torch.linspace(1.0, 0.0, steps + 1).tolist()
    results = {}
    for name, given in specs.items():
        text = caption_states(pipe, [spec.text for spec in given])
        start = noise.clone()
        start[:, :, 0] = truth.latents[:, :, 0]
        velocity = _first_frame_given_velocity(pipe, text, empty, guidance_scale)
        decoded = decode_normalised(pipe.vae, euler(start, sigmas, velocity, kept_frames=1))
        results[name] = {**detector_rates(decoded, given), "clips": len(given), "steps": steps,
                         "guidance_scale": guidance_scale}
    return results
