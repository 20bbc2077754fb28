"""Configuration of EasyCache (arXiv 2507.02860): runtime-adaptive reuse of whole denoiser calls."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from ..errors import ConfigError
from .base import MethodConfig, require

# Per-family defaults. Wan2.1 and HunyuanVideo values are the paper's; the others share the
# architecture (Wan2.2, SkyReels-V2 are Wan-style DiTs) or were tuned on the bundled reference model.
EASYCACHE_PRESETS: dict[str, dict[str, float | int]] = {
    "wan2.1": {"threshold": 0.05, "warmup_steps": 10},
    "wan2.1-fast": {"threshold": 0.1, "warmup_steps": 10},
    "wan2.2": {"threshold": 0.05, "warmup_steps": 10},
    "skyreels-v2": {"threshold": 0.05, "warmup_steps": 10},
    "hunyuan-video": {"threshold": 0.025, "warmup_steps": 5},
    "cogvideox": {"threshold": 0.05, "warmup_steps": 10},
    "ltx-video": {"threshold": 0.05, "warmup_steps": 10},
    "flux": {"threshold": 0.05, "warmup_steps": 5},
    "toy-t2v": {"threshold": 0.05, "warmup_steps": 5},
}


@dataclasses.dataclass
class EasyCacheConfig(MethodConfig):
    """EasyCache: skip a denoiser call while the accumulated predicted output change stays small.

    Args:
        threshold: tau. A call is reused while the accumulated error estimate E stays below it;
            larger means more reuse. ``0`` never reuses (bit-identical to the plain pipeline).
        warmup_steps: R. The first R denoising steps are always computed.
        final_steps: the last ``final_steps`` steps are always computed (the paper: 1).
    """

    method: ClassVar[str] = "easycache"
    role: ClassVar[str] = "step"

    threshold: float = 0.05
    warmup_steps: int = 10
    final_steps: int = 1

    def validate(self) -> None:
        require(isinstance(self.threshold, (int, float)) and not isinstance(self.threshold, bool),
                f"EasyCacheConfig.threshold must be a number, got {self.threshold!r}.")
        require(self.threshold >= 0, f"EasyCacheConfig.threshold must be >= 0 (0 never reuses), got {self.threshold}.")
        require(isinstance(self.warmup_steps, int) and self.warmup_steps >= 0,
                f"EasyCacheConfig.warmup_steps must be an integer >= 0, got {self.warmup_steps!r}.")
        require(isinstance(self.final_steps, int) and self.final_steps >= 0,
                f"EasyCacheConfig.final_steps must be an integer >= 0, got {self.final_steps!r}.")

    @classmethod
    def preset(cls, name: str, **overrides: float | int) -> "EasyCacheConfig":
        """The defaults for a model family (``EasyCacheConfig.preset("wan2.1")``), with optional overrides."""
        if name not in EASYCACHE_PRESETS:
            raise ConfigError(f"No EasyCache preset {name!r}; available: {sorted(EASYCACHE_PRESETS)}.")
        return cls(**{**EASYCACHE_PRESETS[name], **overrides})
