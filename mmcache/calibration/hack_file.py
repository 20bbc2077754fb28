"""A HACK calibration file: each head's class (contextual or structural), the scores behind it, and the model.

The same versioned JSON format as every mmcache calibration (``calibration.schema``, method ``"hack"``).
``head_scores[l][h]`` is the head's column-wise attention variance at the last scale (summed over key
columns, averaged over the calibration samples); the ``contextual_fraction`` of heads with the lowest
scores, over all layers together, are contextual (``contextual_heads[l]``). ``layer_selectivity[l]`` is
the layer's attention selectivity (ScaleKV's index, for the per-layer baseline). Using the file on another
model raises ``CalibrationMismatchError`` naming the mismatch.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from ..files import atomic_write_json
from .file import CalibrationMismatchError, config_hash, read_calibration_json
from .schema import FORMAT_VERSION, validate_calibration


def describe_var(target: Any) -> dict[str, Any]:
    """The identity of a resolved VAR model (``ResolvedVAR``) that a HACK calibration must match."""
    transformer, adapter = target.transformer, target.adapter
    return {"transformer_class": type(transformer).__name__, "config_hash": config_hash(transformer),
            "num_layers": len(adapter.blocks(transformer)), "num_heads": adapter.num_heads(transformer),
            "patch_nums": list(adapter.layout(transformer).patch_nums)}


@dataclasses.dataclass
class HACKCalibration:
    """Head classes of one VAR model, found on ``samples`` calibration images."""

    target: dict[str, Any]
    contextual_fraction: float
    contextual_heads: list[list[int]]
    head_scores: list[list[float]]
    layer_selectivity: list[float]
    samples: int
    prompts: list[str] = dataclasses.field(default_factory=list)
    method: str = "hack"
    version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> "HACKCalibration":
        return cls(**validate_calibration(data, source, method="hack").model_dump())

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "HACKCalibration":
        return cls.from_dict(read_calibration_json(path), source=str(Path(path)))

    def check(self, target: Any) -> None:
        """Raise ``CalibrationMismatchError`` unless this calibration was made for ``target``'s architecture."""
        actual = describe_var(target)
        for key in ("transformer_class", "num_layers", "num_heads", "patch_nums", "config_hash"):
            if actual[key] != self.target.get(key):
                raise CalibrationMismatchError(
                    f"This HACK calibration was made for {key.replace('_', ' ')} {self.target.get(key)}, but the "
                    f"model has {actual[key]}. Calibrate this model with `mmcache calibrate --method hack`.")

    def structural_heads(self, layer: int) -> list[int]:
        contextual = set(self.contextual_heads[layer])
        return [head for head in range(self.target["num_heads"]) if head not in contextual]
