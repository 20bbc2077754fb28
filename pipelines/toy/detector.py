"""Prompt-adherence checker for shapes-world videos: the prompted colour must dominate the chromatic pixels in most
frames, its centroid (tracked on the torus) move along the prompted motion, and its blob's bounding-box fill ratio
(square ≈ 1, circle ≈ π/4, triangle ≈ 1/2) fit the shape."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import cv2
import numpy as np

from .captions import BACKGROUNDS, COLOURS, MOTIONS, CaptionSpec, parse_caption

MIN_SATURATION = 90  # of 255: chromatic pixels only (backgrounds are grey levels)
MIN_VALUE = 60  # of 255
MAX_HUE_DISTANCE = 25.0  # degrees from the nearest palette hue
MIN_AREA_FRACTION = 0.015  # of the frame: the object is "visible" in a frame
MIN_VISIBLE_FRAMES = 0.75  # fraction of frames where the prompted colour must be visible
MIN_SPEED = 0.6 / 64  # fraction of the frame size per frame
MIN_AXIS_RATIO = 2.0  # along-direction speed over across-direction speed
SHAPE_FILL_BOUNDS = (0.64, 0.89)  # triangle below, square above, circle between
PALETTE_HUES = np.array([cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2HSV_FULL)[0, 0, 0] * 360.0 / 256.0
                         for rgb in COLOURS.values()], dtype=np.float32)


@dataclasses.dataclass
class AdherenceScore:
    """How a video matches its caption. ``shape_ok`` is ``None`` when the shape could not be judged."""

    colour_ok: bool
    shape_ok: bool | None
    direction_ok: bool
    details: dict[str, Any]

    @property
    def ok(self) -> bool:  # colour and direction right, and the shape not judged wrong
        return self.colour_ok and self.direction_ok and self.shape_ok is not False


def as_uint8_video(frames: np.ndarray) -> np.ndarray:
    """``[T, H, W, 3]`` uint8; float input is taken to be in [0, 1]."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"Expected frames of shape [T, H, W, 3], got {frames.shape}.")
    if frames.dtype != np.uint8:
        frames = np.clip(np.round(frames.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return frames


def colour_labels(frames: np.ndarray) -> np.ndarray:
    """Per-pixel palette index (``list(COLOURS)`` order), -1 for achromatic or unknown pixels."""
    t, h, w, _ = frames.shape
    hsv = cv2.cvtColor(frames.reshape(t * h, w, 3), cv2.COLOR_RGB2HSV_FULL).reshape(t, h, w, 3)
    hue = hsv[..., 0].astype(np.float32) * 360.0 / 256.0
    chromatic = (hsv[..., 1] >= MIN_SATURATION) & (hsv[..., 2] >= MIN_VALUE)
    distance = np.abs(hue[..., None] - PALETTE_HUES)
    distance = np.minimum(distance, 360.0 - distance)
    return np.where(chromatic & (distance.min(-1) <= MAX_HUE_DISTANCE), distance.argmin(-1), -1)


def circular_centroid(mask: np.ndarray) -> tuple[float, float]:
    """Centroid (x, y) of a boolean mask on a torus of the frame's size."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    ax, ay = 2 * np.pi * xs / w, 2 * np.pi * ys / h
    cx = np.arctan2(np.sin(ax).mean(), np.cos(ax).mean()) * w / (2 * np.pi)
    cy = np.arctan2(np.sin(ay).mean(), np.cos(ay).mean()) * h / (2 * np.pi)
    return float(cx % w), float(cy % h)


def track_velocity(masks: np.ndarray) -> tuple[float, float] | None:
    """Mean per-frame displacement (x, y) in pixels of the mask centroid; ``None`` if under 2 frames."""
    t, h, w = masks.shape
    points = [(i, circular_centroid(masks[i])) for i in range(t) if masks[i].sum() >= MIN_AREA_FRACTION * h * w]
    if len(points) < 2:
        return None
    total_x = total_y = 0.0
    for (_, (x0, y0)), (_, (x1, y1)) in zip(points, points[1:]):
        total_x += (x1 - x0 + w / 2) % w - w / 2  # the shortest way round the torus
        total_y += (y1 - y0 + h / 2) % h - h / 2
    span = points[-1][0] - points[0][0]
    return total_x / span, total_y / span


def classify_direction(velocity: tuple[float, float] | None, size: int) -> str | None:
    """The motion word whose unit step best matches ``velocity``; ``None`` if too slow or too oblique."""
    if velocity is None:
        return None
    vx, vy = velocity
    best = max(MOTIONS, key=lambda name: MOTIONS[name][0] * vx + MOTIONS[name][1] * vy)
    ux, uy = MOTIONS[best]
    along, across = ux * vx + uy * vy, abs(uy * vx - ux * vy)
    return None if along < MIN_SPEED * size or along < MIN_AXIS_RATIO * across else best


def fill_ratio(mask: np.ndarray) -> float | None:
    """Largest blob's pixels over its bounding box (centred on the torus); ``None`` if it touches the border."""
    h, w = mask.shape
    if mask.sum() < MIN_AREA_FRACTION * h * w:
        return None
    cx, cy = circular_centroid(mask)
    mask = np.roll(mask, (int(round(h / 2 - cy)), int(round(w / 2 - cx))), axis=(0, 1))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    x, y, bw, bh, area = stats[1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())]
    if x == 0 or y == 0 or x + bw >= w or y + bh >= h or area < MIN_AREA_FRACTION * h * w:
        return None
    return float(area) / float(bw * bh)


def classify_shape(masks: np.ndarray) -> tuple[str | None, float | None]:
    """Shape word from the median fill ratio over frames where it can be measured."""
    ratios = [r for r in (fill_ratio(m) for m in masks) if r is not None]
    if not ratios:
        return None, None
    ratio, (low, high) = float(np.median(ratios)), SHAPE_FILL_BOUNDS
    return ("triangle" if ratio < low else "square" if ratio > high else "circle"), ratio


def classify_background(frames: np.ndarray, labels: np.ndarray) -> str:
    """Nearest background name to the median grey level of the non-object pixels."""
    rest = frames[labels < 0]
    level = float(np.median(rest.mean(-1))) if len(rest) else 0.0
    return min(BACKGROUNDS, key=lambda name: abs(np.mean(BACKGROUNDS[name]) - level))


def score_video(frames: np.ndarray, caption: str | CaptionSpec) -> AdherenceScore:
    """Score a video (``[T, H, W, 3]``, uint8 or float in [0, 1]) against its caption."""
    spec = caption if isinstance(caption, CaptionSpec) else parse_caption(caption)
    frames = as_uint8_video(frames)
    t, h, w, _ = frames.shape
    labels, names = colour_labels(frames), list(COLOURS)
    counts = np.array([(labels == i).sum() for i in range(len(names))], dtype=np.float64)
    dominant = names[int(counts.argmax())] if counts.max() > 0 else None
    masks = labels == names.index(spec.colour)
    visible = float((masks.reshape(t, -1).sum(1) >= MIN_AREA_FRACTION * h * w).mean())
    colour_ok = dominant == spec.colour and visible >= MIN_VISIBLE_FRAMES
    tracked = masks if colour_ok or dominant is None else labels == names.index(dominant)
    velocity = track_velocity(tracked)
    direction = classify_direction(velocity, min(h, w))
    shape, ratio = classify_shape(tracked)
    details = {"caption": spec.text, "dominant_colour": dominant,
               "colour_fractions": {name: float(c / (t * h * w)) for name, c in zip(names, counts)},
               "visible_fraction": visible,
               "velocity_px_per_frame": None if velocity is None else [float(v) for v in velocity],
               "direction": direction, "shape": shape, "fill_ratio": ratio,
               "background": classify_background(frames, labels)}
    return AdherenceScore(colour_ok, None if shape is None else shape == spec.shape, direction == spec.motion, details)


def score_segments(frames: np.ndarray, caption: str | CaptionSpec, length: int = 17,
                   stride: int | None = None) -> list[AdherenceScore]:
    """Scores of consecutive windows of ``length`` frames (for long videos: is the caption kept all along?)."""
    frames = as_uint8_video(frames)
    starts = list(range(0, max(1, len(frames) - length + 1), stride or length))
    if starts[-1] + length < len(frames):
        starts.append(len(frames) - length)
    return [score_video(frames[s:s + length], caption) for s in starts]


def keeps_first_segment(segments: Sequence[AdherenceScore]) -> bool:
    """Every segment shows the first segment's dominant colour and its (detected, not ``None``) motion."""
    first = segments[0].details
    return first["direction"] is not None and all(
        s.details["dominant_colour"] == first["dominant_colour"] and s.details["direction"] == first["direction"]
        for s in segments)
