"""Offline calibration: recorded full-compute trajectories turned into method parameters."""

from .api import calibrate, fit_ertacache, supports_time_adjustment
from .calibration import Calibration, CalibrationMismatchError

__all__ = ["calibrate", "fit_ertacache", "supports_time_adjustment", "Calibration", "CalibrationMismatchError"]
