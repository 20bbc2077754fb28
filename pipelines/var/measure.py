"""One timed VAR sampling call, plain or under a scale-KV method: its images, wall time and the method's stats.

Shared by ``mmcache generate --compare`` on an image model and the demo's Image (VAR) tab.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Sequence

import numpy as np
import torch

from ..loader import generation_defaults

CALL_KEYS = ("guidance_scale", "top_k", "top_p", "guidance_ramp")  # the call settings a VAR model stores


@dataclasses.dataclass
class _NoDenoiserTime:
    denoiser_seconds: None = None


@dataclasses.dataclass
class ImageRun:
    """One call's images (uint8 ``[N, H, W, 3]``), wall time and, under a method, its ``ScaleKVStats``."""

    images: np.ndarray
    wall_seconds: float
    kv_stats: Any = None
    stats: _NoDenoiserTime = dataclasses.field(default_factory=_NoDenoiserTime)


def call_settings(model: str) -> dict[str, Any]:
    """The sampling settings stored beside ``model`` (guidance, top-k / top-p, guidance ramp), or none."""
    return {key: value for key, value in generation_defaults(model).items() if key in CALL_KEYS}


def sample_images(pipe: Any, prompt: str, num_images: int, seed: int, configs: Sequence[Any], call: dict[str, Any],
                  record_kept: bool = False) -> ImageRun:
    """``num_images`` images of ``prompt`` from ``seed``, under ``configs`` (none: the pipeline's own cache);
    ``record_kept`` records the kept tokens of every block and scale in the stats (``ScaleKVHandle.record_kept``)."""
    import mmcache

    handle = mmcache.enable(pipe, *configs) if configs else None
    try:
        if handle is not None:
            handle.record_kept = record_kept
        start = time.perf_counter()
        images = pipe(prompt, num_images=num_images, generator=torch.Generator().manual_seed(seed),
                      output_type="np", **call).images
        seconds = time.perf_counter() - start
        stats = handle.stats() if handle is not None else None
    finally:
        if handle is not None:
            handle.disable()
    return ImageRun((images * 255).round().astype(np.uint8), seconds, stats)
