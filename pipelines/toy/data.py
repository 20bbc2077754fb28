"""Deterministic synthetic clips: clip ``index`` of ``(seed, split)`` is always the same video. One flat shape moves
on a flat background on a torus (so a motion can last any number of frames), drawn 4× supersampled and
area-averaged; ``"train"`` and ``"held_out"`` clips show captions of their split, ``"all"`` any caption."""

from __future__ import annotations

import dataclasses
from typing import Literal

import cv2
import numpy as np

from .captions import BACKGROUNDS, COLOURS, MOTIONS, CaptionSpec, all_specs, held_out_specs, train_specs

Split = Literal["train", "held_out", "all"]
SPLITS = {"train": (0, train_specs), "held_out": (1, held_out_specs), "all": (2, all_specs)}
EVAL_SEED = 1_000_003  # the held-out clips VAE reconstruction is measured on (no training run uses this seed)
SUPERSAMPLE = 4


@dataclasses.dataclass(frozen=True)
class MotionParams:
    """Everything about a clip that the caption does not say, in units of the frame size."""

    x0: float  # start centre, fraction of the width
    y0: float  # start centre, fraction of the height
    speed: float  # fraction of the frame size per frame
    radius: float  # fraction of the frame size
    colour_jitter: tuple[int, int, int] = (0, 0, 0)
    background_jitter: int = 0


@dataclasses.dataclass(frozen=True)
class Clip:
    """One synthetic video (uint8 ``[T, H, W, 3]``) and its caption."""

    spec: CaptionSpec
    frames: np.ndarray

    @property
    def caption(self) -> str:
        return self.spec.text


def sample_params(rng: np.random.Generator) -> MotionParams:
    """Random nuisances: position anywhere, 1.5–2.5 px/frame and radius 8–11 px at 64×64, colour jitter."""
    return MotionParams(x0=float(rng.uniform(0, 1)), y0=float(rng.uniform(0, 1)),
                        speed=float(rng.uniform(1.5, 2.5) / 64), radius=float(rng.uniform(8, 11) / 64),
                        colour_jitter=tuple(int(v) for v in rng.integers(-12, 13, size=3)),
                        background_jitter=int(rng.integers(-8, 9)))


def _jittered(rgb: tuple[int, int, int], offsets: tuple[int, ...]) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + o, 0, 255)) for c, o in zip(rgb, offsets))


def _draw(canvas: np.ndarray, shape: str, cx: float, cy: float, r: float, colour: tuple[int, int, int]) -> None:
    """One shape on the supersampled canvas; centre and radius in frame pixels."""
    cx, cy, r = cx * SUPERSAMPLE, cy * SUPERSAMPLE, r * SUPERSAMPLE
    if shape == "circle":
        cv2.circle(canvas, (int(round(cx)), int(round(cy))), int(round(r)), colour, -1, cv2.LINE_8)
        return
    if shape == "square":
        h = 0.886 * r  # same area as the circle
        polygon = np.array([[cx - h, cy - h], [cx + h, cy - h], [cx + h, cy + h], [cx - h, cy + h]])
    else:  # triangle, apex up
        big, angles = 1.35 * r, np.deg2rad([-90.0, 30.0, 150.0])
        polygon = np.stack([cx + big * np.cos(angles), cy + big * np.sin(angles)], axis=1)
    cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], colour, cv2.LINE_8)


def render_clip(spec: CaptionSpec, params: MotionParams, num_frames: int = 17, size: int = 64) -> np.ndarray:
    """The clip a caption describes, as uint8 ``[num_frames, size, size, 3]`` RGB."""
    background = _jittered(BACKGROUNDS[spec.background], (params.background_jitter,) * 3)
    colour = _jittered(COLOURS[spec.colour], params.colour_jitter)
    radius, (dx, dy) = params.radius * size, MOTIONS[spec.motion]
    t = np.arange(num_frames, dtype=np.float64)
    xs = np.mod((params.x0 + dx * params.speed * t) * size, size)
    ys = np.mod((params.y0 + dy * params.speed * t) * size, size)
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for index, (cx, cy) in enumerate(zip(xs, ys)):
        canvas = np.full((size * SUPERSAMPLE, size * SUPERSAMPLE, 3), background, dtype=np.uint8)
        for ox in (-size, 0, size):  # copies across the wrap-around edges
            for oy in (-size, 0, size):
                if abs(cx + ox - size / 2) < size / 2 + 2 * radius and abs(cy + oy - size / 2) < size / 2 + 2 * radius:
                    _draw(canvas, spec.shape, cx + ox, cy + oy, radius, colour)
        frames[index] = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return frames


def make_clip(seed: int, index: int, split: Split = "train", num_frames: int = 17, size: int = 64) -> Clip:
    """Clip ``index`` of the stream ``(seed, split)``: a random caption of the split, random nuisances."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose one of {sorted(SPLITS)}.")
    code, specs_of = SPLITS[split]
    specs, rng = specs_of(), np.random.default_rng([int(seed), code, int(index)])
    spec = specs[int(rng.integers(len(specs)))]
    return Clip(spec, render_clip(spec, sample_params(rng), num_frames, size))


def make_dataset(seed: int, count: int, split: Split = "train", num_frames: int = 17, size: int = 64,
                 start: int = 0) -> tuple[np.ndarray, list[str]]:
    """Clips ``start ... start + count - 1`` as uint8 ``[count, T, H, W, 3]`` and their captions."""
    clips = [make_clip(seed, start + offset, split, num_frames, size) for offset in range(count)]
    return np.stack([clip.frames for clip in clips]), [clip.caption for clip in clips]


def to_model_range(frames: np.ndarray) -> np.ndarray:
    """uint8 ``[N, T, H, W, 3]`` → float32 ``[N, 3, T, H, W]`` in [-1, 1] (the VAE's input)."""
    return np.ascontiguousarray(np.moveaxis(frames.astype(np.float32) / 127.5 - 1.0, -1, 1))
