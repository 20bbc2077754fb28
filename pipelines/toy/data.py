"""Deterministic synthetic clips: clip ``index`` of ``(seed, split)`` is always the same video.

Splits: ``"train"`` draws captions from the training triplets, ``"held_out"`` from the triplets
never used in training (see ``captions.is_held_out``), ``"all"`` from every caption.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from .captions import CaptionSpec, all_specs, held_out_specs, train_specs
from .render import MotionParams, render_clip, sample_params

Split = Literal["train", "held_out", "all"]
_SPLIT_CODES = {"train": 0, "held_out": 1, "all": 2}
EVAL_SEED = 1_000_003  # the held-out clips VAE reconstruction is measured on (no training run uses this seed)


@dataclasses.dataclass(frozen=True)
class Clip:
    """One synthetic video and what generated it."""

    spec: CaptionSpec
    params: MotionParams
    frames: np.ndarray  # uint8 [T, H, W, 3]

    @property
    def caption(self) -> str:
        return self.spec.text


def specs_of(split: Split) -> list[CaptionSpec]:
    if split not in _SPLIT_CODES:
        raise ValueError(f"Unknown split {split!r}; choose one of {sorted(_SPLIT_CODES)}.")
    return {"train": train_specs, "held_out": held_out_specs, "all": all_specs}[split]()


def clip_rng(seed: int, index: int, split: Split) -> np.random.Generator:
    return np.random.default_rng([int(seed), _SPLIT_CODES[split], int(index)])


def make_clip(seed: int, index: int, split: Split = "train", num_frames: int = 17, size: int = 64) -> Clip:
    """Clip ``index`` of the stream ``(seed, split)``: a random caption of the split, random nuisances."""
    specs = specs_of(split)
    rng = clip_rng(seed, index, split)
    spec = specs[int(rng.integers(len(specs)))]
    params = sample_params(rng)
    return Clip(spec, params, render_clip(spec, params, num_frames, size))


def make_dataset(seed: int, count: int, split: Split = "train", num_frames: int = 17, size: int = 64,
                 progress: bool = False, start: int = 0) -> tuple[np.ndarray, list[str]]:
    """Clips ``start ... start + count - 1`` as uint8 ``[count, T, H, W, 3]`` and their captions."""
    frames = np.empty((count, num_frames, size, size, 3), dtype=np.uint8)
    captions: list[str] = []
    for offset in tqdm(range(count), desc=f"clips ({split})", disable=not progress):
        clip = make_clip(seed, start + offset, split, num_frames, size)
        frames[offset] = clip.frames
        captions.append(clip.caption)
    return frames, captions


def to_model_range(frames: np.ndarray) -> np.ndarray:
    """uint8 ``[N, T, H, W, 3]`` → float32 ``[N, 3, T, H, W]`` in [-1, 1] (the VAE's input)."""
    video = frames.astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(np.moveaxis(video, -1, 1))
