"""``proxy.dynamic_degree``: VBench's dynamic-degree rule with OpenCV optical flow instead of RAFT.

VBench's ``dynamic_degree`` estimates RAFT flow between consecutive frames (sampled at about 8 fps),
takes the mean of the largest 5% of flow magnitudes per pair, and calls a video dynamic when at
least ``round(4 * frames / 16)`` pairs exceed ``6 * min(H, W) / 256``; the score is the fraction of
dynamic videos. This proxy keeps that rule but uses Farneback flow (no network weights), so its
values are not VBench's: it is named ``proxy.*`` and only meant to compare methods with each other
(a cache that freezes motion lowers it).
"""

from __future__ import annotations

import cv2
import numpy as np


def _top_flow_magnitude(first: np.ndarray, second: np.ndarray) -> float:
    gray_a = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY)
    gray_b = cv2.cvtColor(second, cv2.COLOR_RGB2GRAY)
    flow = cv2.calcOpticalFlowFarneback(gray_a, gray_b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    magnitude = np.sqrt((flow.astype(np.float64) ** 2).sum(axis=-1)).ravel()
    count = max(1, int(magnitude.size * 0.05))
    return float(np.sort(magnitude)[-count:].mean())


def is_dynamic(frames: np.ndarray, fps: float = 8.0) -> bool:
    """VBench's decision rule on uint8 ``[T, H, W, 3]`` frames, with Farneback flow."""
    step = max(1, round(fps / 8))
    sampled = frames[::step]
    threshold = 6.0 * min(sampled.shape[1:3]) / 256.0
    needed = round(4 * len(sampled) / 16.0)
    pairs = list(zip(sampled[:-1], sampled[1:]))
    moving = sum(_top_flow_magnitude(a, b) > threshold for a, b in pairs)
    return bool(pairs) and moving >= needed
