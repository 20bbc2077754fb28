"""Configuration of ERTACache (arXiv 2508.21091): a calibrated reuse schedule with two corrections."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar

from .base import MethodConfig, require


@dataclasses.dataclass
class ERTACacheConfig(MethodConfig):
    """ERTACache: reuse the cached residual on the calibrated steps, rectify it, adjust the timesteps.

    Args:
        calibration: a calibration file written by ``mmcache calibrate`` (or ``Calibration.save``),
            or a ``Calibration`` object.
        rectification: subtract the fitted cache-error model on reused steps.
        time_adjustment: shorten reused Euler steps by the calibrated factor phi and hand the
            remaining time to the later steps. ``None``: on when the calibration has phi (it has
            them only for flow-matching Euler samplers); ``True`` on another sampler is an error.
    """

    method: ClassVar[str] = "ertacache"
    role: ClassVar[str] = "step"

    calibration: Any = None
    rectification: bool = True
    time_adjustment: bool | None = None

    def validate(self) -> None:
        from ..calibration.calibration import Calibration

        require(self.calibration is not None,
                "ERTACacheConfig needs calibration=<file written by `mmcache calibrate`>.")
        if isinstance(self.calibration, (str, os.PathLike)):
            self.loaded = Calibration.load(self.calibration)
        elif isinstance(self.calibration, dict):
            self.loaded = Calibration.from_dict(self.calibration)
        else:
            require(isinstance(self.calibration, Calibration),
                    f"ERTACacheConfig.calibration must be a file path or a Calibration, got "
                    f"{type(self.calibration).__name__}.")
            self.loaded = self.calibration
        require(self.loaded.method == "ertacache",
                f"The calibration is for {self.loaded.method!r}, not ertacache.")
        require(isinstance(self.rectification, bool), "ERTACacheConfig.rectification must be True or False.")
        require(self.time_adjustment in (None, True, False), "ERTACacheConfig.time_adjustment must be None/True/False.")
        if self.time_adjustment and not self.loaded.time_scale and self.loaded.reuse_steps:
            require(False, "time_adjustment=True needs a calibration made with a flow-matching Euler scheduler "
                           "(FlowMatchEulerDiscreteScheduler); this one has no timestep-adjustment terms. "
                           "Use time_adjustment=None or False, or recalibrate with an Euler scheduler.")

    @property
    def uses_time_adjustment(self) -> bool:
        return bool(self.loaded.time_scale) if self.time_adjustment is None else bool(self.time_adjustment)

    def to_dict(self) -> dict[str, Any]:
        calibration = self.calibration
        if not isinstance(calibration, (str, os.PathLike)):
            calibration = self.loaded.to_dict()
        return {"method": self.method, "calibration": os.fspath(calibration) if isinstance(calibration, os.PathLike)
                else calibration, "rectification": self.rectification, "time_adjustment": self.time_adjustment}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ERTACacheConfig) and self.to_dict() == other.to_dict()
