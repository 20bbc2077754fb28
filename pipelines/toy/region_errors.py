"""Where a reconstruction loses its PSNR: object interior, object edges or background.

The synthetic clips are one flat shape on a flat background, so the object mask of a ground-truth
clip is exact (every pixel that is not the clip's background colour). The edge band is the mask
dilated minus the mask eroded (``EDGE_PX`` each way): anti-aliasing, motion within a latent frame
and misplaced outlines land there; wrong colours land in the interior.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .data import Clip
from .captions import BACKGROUNDS
from .render import clip_colour
from .vae_utils import psnr_from_mse

EDGE_PX = 2
REGIONS = ("interior", "edge", "background")


def background_rgb(clip: Clip) -> np.ndarray:
    """The clip's flat background colour (palette colour plus its jitter), ``uint8 [3]``."""
    return np.array(clip_colour(BACKGROUNDS[clip.spec.background], clip.params.background_jitter), dtype=np.uint8)


def region_masks(clip: Clip) -> dict[str, np.ndarray]:
    """Boolean ``[T, H, W]`` masks of the object interior, its edge band and the background."""
    background = background_rgb(clip).astype(np.int16)
    objects = (clip.frames.astype(np.int16) != background).any(axis=-1).astype(np.uint8)
    kernel = np.ones((2 * EDGE_PX + 1, 2 * EDGE_PX + 1), np.uint8)
    dilated = np.stack([cv2.dilate(frame, kernel) for frame in objects]).astype(bool)
    eroded = np.stack([cv2.erode(frame, kernel) for frame in objects]).astype(bool)
    edge = dilated & ~eroded
    return {"interior": eroded, "edge": edge, "background": ~dilated}


def region_errors(clips: Sequence[Clip], decoded: np.ndarray) -> dict[str, dict[str, float]]:
    """Per region over all clips: share of the pixels, share of the squared error, and its PSNR (dB)."""
    squared = {name: 0.0 for name in REGIONS}
    counts = {name: 0 for name in REGIONS}
    for clip, frames in zip(clips, decoded):
        error = ((frames.astype(np.float64) - clip.frames.astype(np.float64)) ** 2).mean(axis=-1)
        for name, mask in region_masks(clip).items():
            squared[name] += float(error[mask].sum())
            counts[name] += int(mask.sum())
    total_error, total_pixels = sum(squared.values()), sum(counts.values())
    result = {}
    for name in REGIONS:
        mse = squared[name] / max(counts[name], 1)
        result[name] = {"pixel_share": counts[name] / total_pixels,
                        "error_share": squared[name] / total_error if total_error else 0.0,
                        "psnr_db": psnr_from_mse(mse)}
    return result
