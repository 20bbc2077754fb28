"""Deterministic 64×64 images of the shapes world: image ``index`` of ``(seed, split)`` is always the same.

One frame of the toy renderer: the shape anywhere on the torus, radius 8–11 px, colour and background
jittered as in the videos.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from ..toy.data import render_clip, sample_params
from .captions import ImageSpec, all_image_specs, held_out_image_specs, train_image_specs

ImageSplit = Literal["train", "held_out", "all"]
SIZE = 64
_SPLITS = {"train": (0, train_image_specs), "held_out": (1, held_out_image_specs), "all": (2, all_image_specs)}
EVAL_SEED = 1_000_003  # the held-out images reconstruction is measured on (no training run uses this seed)


def make_image(seed: int, index: int, split: ImageSplit = "train", size: int = SIZE) -> tuple[np.ndarray, ImageSpec]:
    """Image ``index`` of the stream ``(seed, split)`` as uint8 ``[size, size, 3]``, and its caption."""
    if split not in _SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose one of {sorted(_SPLITS)}.")
    code, specs_of = _SPLITS[split]
    specs = specs_of()
    rng = np.random.default_rng([int(seed), 10 + code, int(index)])  # streams apart from the video clips'
    spec = specs[int(rng.integers(len(specs)))]
    return render_clip(spec.scene(), sample_params(rng), 1, size)[0], spec


def image_batch(seed: int, start: int, count: int, split: ImageSplit = "train",
                size: int = SIZE) -> tuple[torch.Tensor, list[str]]:
    """Images ``start ... start + count - 1`` as float ``[count, 3, size, size]`` in [-1, 1], and their captions."""
    pairs = [make_image(seed, start + offset, split, size) for offset in range(count)]
    images = np.stack([image for image, _ in pairs]).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), [spec.text for _, spec in pairs]
