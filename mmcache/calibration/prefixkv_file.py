"""A PrefixKV calibration file: per-layer eviction fractions for one budget, and the model they were made for.

The same versioned JSON format as every mmcache calibration (``calibration.schema``, method
``"prefixkv"``). ``target`` names the model class, its language model's class and config hash and
its number of layers; using the file on another model, or at another budget, raises
``CalibrationMismatchError`` naming the mismatch.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from ..files import atomic_write_json
from .file import CalibrationMismatchError, config_hash, read_calibration_json
from .schema import FORMAT_VERSION, validate_calibration

BUDGET_TOLERANCE = 1e-9
SINKS = 4  # PrefixKV keeps the first real tokens (attention sinks) ...
PROTECTED_LAST = 1  # ... and the last one, at calibration and at run time alike


def describe_vlm(target: Any) -> dict[str, Any]:
    """The identity of a resolved vision-language model (``ResolvedVLM``) that a PrefixKV calibration must match."""
    return {
        "model_class": type(target.model).__name__,
        "language_model_class": type(target.language_model).__name__,
        "language_model_config_hash": config_hash(target.language_model),
        "num_layers": len(target.attention_modules),
    }


@dataclasses.dataclass
class PrefixKVCalibration:
    """Per-layer eviction fractions (``evict_fractions[l]``: the share of the prompt layer ``l`` evicts) for ``budget``.

    ``samples`` / ``prompt_lengths``: the calibration prompts; ``diagnostics`` holds each sample's
    own fractions.
    """

    target: dict[str, Any]
    budget: float
    evict_fractions: list[float]
    samples: int
    prompt_lengths: list[int] = dataclasses.field(default_factory=list)
    diagnostics: dict[str, Any] = dataclasses.field(default_factory=dict)
    method: str = "prefixkv"
    version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> "PrefixKVCalibration":
        values = validate_calibration(data, source, method="prefixkv").model_dump()
        values["budget"] = float(values["budget"])
        values["evict_fractions"] = [float(value) for value in values["evict_fractions"]]
        return cls(**values)

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PrefixKVCalibration":
        return cls.from_dict(read_calibration_json(path), source=str(Path(path)))

    def check(self, target: Any, budget: float) -> None:
        """Raise ``CalibrationMismatchError`` unless this calibration was made for ``target`` at ``budget``."""
        actual = describe_vlm(target)
        for key in ("model_class", "language_model_class", "num_layers", "language_model_config_hash"):
            expected = self.target.get(key)
            if actual.get(key) != expected:
                raise CalibrationMismatchError(
                    f"This PrefixKV calibration was made for {key.replace('_', ' ')} {expected}, but the model has "
                    f"{actual.get(key)}. Calibrate this model with `mmcache calibrate --method prefixkv`."
                )
        if abs(float(budget) - self.budget) > BUDGET_TOLERANCE:
            raise CalibrationMismatchError(
                f"This PrefixKV calibration was made for budget {self.budget}, but PrefixKVConfig.budget is {budget}; "
                f"use budget={self.budget} or calibrate for {budget} (`mmcache calibrate --method prefixkv "
                f"--budget {budget}`)."
            )
