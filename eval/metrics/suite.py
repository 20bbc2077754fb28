"""All per-video metrics of one generation, computed the same way for every method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmcache.quality import psnr, ssim

from .adherence import detector_availability, score_adherence
from .availability import Availability
from .flicker import temporal_flickering
from .lpips_metric import LpipsScorer, lpips_availability
from .motion_proxy import is_dynamic

PROXY_DYNAMIC_DEGREE = "proxy.dynamic_degree"


class MetricSuite:
    """Fidelity against the baseline (PSNR, SSIM, LPIPS where available) and per-video scores.

    PSNR/SSIM/LPIPS use the generated frames themselves (not the encoded file); temporal
    flickering reads the written MP4 as VBench does.
    """

    def __init__(self, device: Any = "cpu", fps: float = 8.0) -> None:
        self.device = device
        self.fps = fps
        self.lpips_status: Availability = lpips_availability()
        self.adherence_status: Availability = detector_availability()
        self._lpips: LpipsScorer | None = None

    def availability(self) -> dict[str, dict[str, Any]]:
        return {"lpips": self.lpips_status.as_dict(), "adherence": self.adherence_status.as_dict()}

    def _lpips_scorer(self) -> LpipsScorer:
        if self._lpips is None:
            self._lpips = LpipsScorer(self.device)
        return self._lpips

    def fidelity(self, frames: np.ndarray, baseline: np.ndarray) -> dict[str, float | None]:
        return {
            "psnr_db": psnr(frames, baseline),
            "ssim": ssim(frames, baseline),
            "lpips": self._lpips_scorer()(frames, baseline) if self.lpips_status.available else None,
        }

    def video_scores(self, frames: np.ndarray, video: Path, caption: str) -> dict[str, Any]:
        return {
            "temporal_flickering": temporal_flickering(video),
            PROXY_DYNAMIC_DEGREE: is_dynamic(frames, self.fps),
            "adherence": score_adherence(frames, caption),
        }
