"""Drawing one clip of the shapes world: a flat background and one shape moving on a torus.

The world wraps around (an object leaving on the right re-enters on the left), so a motion can go on
for any number of frames: that is what lets the diffusion-forcing model extend videos far beyond its
training length while the caption stays true. Shapes are drawn 4× supersampled and area-averaged,
so edges are anti-aliased and sub-pixel motion is smooth.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from .captions import BACKGROUNDS, COLOURS, MOTIONS, CaptionSpec

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


def sample_params(rng: np.random.Generator) -> MotionParams:
    """Random nuisance parameters: position anywhere, 1.5–2.5 px/frame and radius 8–11 px at 64×64."""
    return MotionParams(
        x0=float(rng.uniform(0, 1)), y0=float(rng.uniform(0, 1)),
        speed=float(rng.uniform(1.5, 2.5) / 64), radius=float(rng.uniform(8, 11) / 64),
        colour_jitter=tuple(int(v) for v in rng.integers(-12, 13, size=3)),
        background_jitter=int(rng.integers(-8, 9)),
    )


def _polygon(shape: str, cx: float, cy: float, r: float) -> np.ndarray | None:
    if shape == "square":
        h = 0.886 * r  # same area as the circle
        return np.array([[cx - h, cy - h], [cx + h, cy - h], [cx + h, cy + h], [cx - h, cy + h]])
    if shape == "triangle":
        big = 1.35 * r  # circumradius, apex up
        angles = np.deg2rad([-90.0, 30.0, 150.0])
        return np.stack([cx + big * np.cos(angles), cy + big * np.sin(angles)], axis=1)
    return None


def _draw(canvas: np.ndarray, shape: str, cx: float, cy: float, r: float, colour: tuple[int, int, int]) -> None:
    s = SUPERSAMPLE
    polygon = _polygon(shape, cx * s, cy * s, r * s)
    if polygon is None:
        cv2.circle(canvas, (int(round(cx * s)), int(round(cy * s))), int(round(r * s)), colour, -1, cv2.LINE_8)
    else:
        cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], colour, cv2.LINE_8)


def clip_colour(rgb: tuple[int, int, int], jitter: tuple[int, int, int] | int) -> tuple[int, int, int]:
    """A palette colour with its per-clip jitter (one offset per channel, or one for all), clipped to 0-255."""
    offsets = jitter if isinstance(jitter, tuple) else (jitter,) * 3
    return tuple(int(np.clip(c + o, 0, 255)) for c, o in zip(rgb, offsets))


def object_centres(params: MotionParams, motion: str, num_frames: int, size: int) -> np.ndarray:
    """Centre of the object in pixels, ``[num_frames, 2]`` (x, y), wrapped into the frame."""
    dx, dy = MOTIONS[motion]
    t = np.arange(num_frames, dtype=np.float64)
    x = (params.x0 + dx * params.speed * t) * size
    y = (params.y0 + dy * params.speed * t) * size
    return np.stack([np.mod(x, size), np.mod(y, size)], axis=1)


def render_clip(spec: CaptionSpec, params: MotionParams, num_frames: int = 17, size: int = 64) -> np.ndarray:
    """The clip a caption describes, as uint8 ``[num_frames, size, size, 3]`` RGB."""
    background = clip_colour(BACKGROUNDS[spec.background], params.background_jitter)
    colour = clip_colour(COLOURS[spec.colour], params.colour_jitter)
    big = size * SUPERSAMPLE
    radius = params.radius * size
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for index, (cx, cy) in enumerate(object_centres(params, spec.motion, num_frames, size)):
        canvas = np.empty((big, big, 3), dtype=np.uint8)
        canvas[:] = background
        for ox in (-size, 0, size):  # copies across the wrap-around edges
            for oy in (-size, 0, size):
                if abs(cx + ox - size / 2) < size / 2 + 2 * radius and abs(cy + oy - size / 2) < size / 2 + 2 * radius:
                    _draw(canvas, spec.shape, cx + ox, cy + oy, radius, colour)
        frames[index] = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return frames
