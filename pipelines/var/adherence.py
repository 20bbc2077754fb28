"""Does an image show its caption? The toy detector's colour and shape checks on one frame, and image fidelity.

``score_image(image, caption)``: the caption's colour must be the dominant chromatic colour and cover at
least ``MIN_AREA_FRACTION`` of the image; the shape is judged from the fill ratio of that colour's largest
blob (``None`` when it cannot be, e.g. no blob). ``compare_images`` gives the PSNR / SSIM of one pipeline's
images against another's (same prompts and seeds), as ``mmcache.quality`` computes them for video frames.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from mmcache.quality import psnr, ssim

from ..toy.captions import COLOURS
from ..toy.detector import MIN_AREA_FRACTION, as_uint8_video, classify_background, classify_shape, colour_labels
from .captions import ImageSpec, parse_image_caption


@dataclasses.dataclass
class ImageScore:
    """How an image matches its caption; ``shape_ok`` is ``None`` when the shape could not be judged."""

    colour_ok: bool
    shape_ok: bool | None
    details: dict[str, Any]


def score_image(image: np.ndarray, caption: str | ImageSpec) -> ImageScore:
    """Scores one image (``[H, W, 3]``, uint8 or float in [0, 1]) against an image caption."""
    spec = caption if isinstance(caption, ImageSpec) else parse_image_caption(caption)
    frames = as_uint8_video(np.asarray(image)[None])
    labels = colour_labels(frames)
    names = list(COLOURS)
    counts = np.array([(labels == i).sum() for i in range(len(names))], dtype=np.float64)
    fractions = counts / labels.size
    dominant = names[int(counts.argmax())] if counts.max() > 0 else None
    colour_ok = bool(dominant == spec.colour and fractions[names.index(spec.colour)] >= MIN_AREA_FRACTION)
    shape, ratio = classify_shape(labels == names.index(dominant)) if dominant else (None, None)
    details = {"caption": spec.text, "dominant_colour": dominant, "shape": shape, "fill_ratio": ratio,
               "colour_fractions": dict(zip(names, fractions.tolist())),
               "background": classify_background(frames, labels)}
    return ImageScore(colour_ok, None if shape is None else shape == spec.shape, details)


def compare_images(images: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``images`` against ``reference`` (``[N, H, W, 3]``, uint8 or [0, 1] floats)."""
    return {"psnr": psnr(images, reference), "ssim": ssim(images, reference)}
