"""A calibration file: what offline profiling produced, and what it was made for.

The file is versioned JSON. ``target`` records the model (denoiser class and a hash of its
config), the pipeline and scheduler classes, the number of steps, the latent shape of every branch
(which fixes resolution and frame count), the guidance setting and the branch layout. Using a
calibration on anything else raises ``CalibrationMismatchError`` naming the first mismatch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError
from ..files import atomic_write_json
from .schema import FORMAT_VERSION, validate_calibration


class CalibrationMismatchError(ConfigError):
    """A calibration file is used on a model or setting it was not made for."""


TRANSFORMERS_RUNTIME_KEYS = ("dtype", "torch_dtype", "transformers_version", "architectures", "use_cache")


def config_hash(module: torch.nn.Module) -> str:
    """A short, stable hash of a model's config (architecture and sizes): a diffusers config, or a
    transformers one without its runtime settings (dtype, version, cache use)."""
    config = getattr(module, "config", {}) or {}
    if hasattr(config, "to_dict"):
        config = {key: value for key, value in config.to_dict().items() if key not in TRANSFORMERS_RUNTIME_KEYS}
    config = {key: value for key, value in dict(config).items() if not key.startswith("_")}
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_calibration_json(path: str | os.PathLike) -> Any:
    """The parsed JSON of a calibration file, with one clear error if it is missing or not JSON."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"Calibration file {file} does not exist; create one with `mmcache calibrate`.")
    try:
        return json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file} is not a valid mmcache calibration file (not JSON: {error}); re-create it "
                          "with `mmcache calibrate`.") from None


def describe_target(pipeline: Any | None, denoisers: tuple[torch.nn.Module, ...]) -> dict[str, Any]:
    """The identity of a pipeline that a calibration must match."""
    scheduler = getattr(pipeline, "scheduler", None) if pipeline is not None else None
    return {
        "pipeline_class": type(pipeline).__name__ if pipeline is not None else None,
        "denoiser_classes": [type(module).__name__ for module in denoisers],
        "denoiser_config_hashes": [config_hash(module) for module in denoisers],
        "scheduler_class": type(scheduler).__name__ if scheduler is not None else None,
    }


@dataclasses.dataclass
class Calibration:
    """Offline-profiled terms of a step-skipping method (ERTACache) and what they were made for.

    ``reuse_steps``: the global reuse schedule. ``time_scale``: phi per reused step, fitted on
    the rectified prediction (empty when the sampler does not allow timestep adjustment);
    ``time_scale_unrectified``: phi fitted on plain reuse, for runs without rectification.
    ``rectification``: per branch key and reused step, the per-channel (or scalar) slope K and
    intercept B of the cache-error model. The file's schema is ``mmcache.calibration.schema``.
    """

    method: str
    target: dict[str, Any]
    num_steps: int
    latent_shapes: dict[str, list[int]]
    generation: dict[str, Any]
    threshold: float
    reuse_steps: list[int]
    time_scale: dict[int, float]
    rectification: dict[str, dict[int, tuple[list[float], list[float]]]]
    channel_dim: int
    prompts: list[str]
    seeds: list[int]
    first_step_branches: list[str] = dataclasses.field(default_factory=list)
    time_scale_unrectified: dict[int, float] = dataclasses.field(default_factory=dict)
    diagnostics: dict[str, Any] = dataclasses.field(default_factory=dict)
    version: int = FORMAT_VERSION

    # -- files --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["time_scale"] = {str(step): value for step, value in self.time_scale.items()}
        data["time_scale_unrectified"] = {str(step): value for step, value in self.time_scale_unrectified.items()}
        data["rectification"] = {
            key: {str(step): {"slope": list(k), "intercept": list(b)} for step, (k, b) in steps.items()}
            for key, steps in self.rectification.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> "Calibration":
        """Validate ``data`` against the file schema and build the calibration (``source`` names it in errors)."""
        model = validate_calibration(data, source)
        values = model.model_dump()
        for name in ("time_scale", "time_scale_unrectified"):
            values[name] = {int(step): float(value) for step, value in values[name].items()}
        values["rectification"] = {
            key: {int(step): ([float(v) for v in term["slope"]], [float(v) for v in term["intercept"]])
                  for step, term in steps.items()}
            for key, steps in values["rectification"].items()
        }
        values["target"] = dict(values["target"])
        values["threshold"] = float(values["threshold"])
        return cls(**values)

    def phi(self, rectified: bool) -> dict[int, float]:
        """phi per reused step for a run with or without rectification (fitted on that prediction)."""
        return self.time_scale if rectified else self.time_scale_unrectified

    def save(self, path: str | os.PathLike) -> Path:
        """Write the calibration as JSON, atomically."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Calibration":
        """Read a calibration file, with one clear error if it is missing or malformed."""
        return cls.from_dict(read_calibration_json(path), source=str(Path(path)))

    # -- checks ---------------------------------------------------------------------------------
    def check_target(self, pipeline: Any | None, denoisers: tuple[torch.nn.Module, ...]) -> None:
        """Raise ``CalibrationMismatchError`` if the pipeline differs from the calibrated one."""
        actual = describe_target(pipeline, denoisers)
        for key, expected in self.target.items():
            if key == "pipeline_class" and actual[key] is None:
                continue  # enabled on a bare denoiser
            if actual.get(key) != expected:
                label = key.replace("_", " ")
                raise CalibrationMismatchError(
                    f"This calibration was made for {label} {expected}, but the target has {actual.get(key)}. "
                    "Calibrate this model with `mmcache calibrate` (or mmcache.calibrate)."
                )

    def check_branches(self, seen_at_first_step: set[str]) -> None:
        """Raise if the branches evaluated at step 0 differ from the calibration runs' (guidance on/off)."""
        if self.first_step_branches and sorted(seen_at_first_step) != sorted(self.first_step_branches):
            raise CalibrationMismatchError(
                f"This calibration was made with the branches {sorted(self.first_step_branches)} (guidance "
                f"{self.generation.get('guidance_scale')}), but the pipeline runs {sorted(seen_at_first_step)}: use "
                "the same guidance setting as the calibration runs."
            )

    def check_run(self, num_steps: int | None, key: str, latent_shape: tuple[int, ...]) -> None:
        """Raise ``CalibrationMismatchError`` if a pipeline call differs from the calibrated setting."""
        if num_steps != self.num_steps:
            raise CalibrationMismatchError(
                f"This calibration was made for {self.num_steps} denoising steps, but the pipeline runs {num_steps}; "
                f"pass num_inference_steps={self.num_steps} or calibrate for {num_steps} steps."
            )
        if key not in self.latent_shapes:
            raise CalibrationMismatchError(
                f"This calibration was made for the branches {sorted(self.latent_shapes)} (guidance "
                f"{self.generation.get('guidance_scale')}), but the pipeline runs branch {key!r}: use the same "
                "guidance setting as the calibration runs."
            )
        if list(latent_shape) != list(self.latent_shapes[key]):
            raise CalibrationMismatchError(
                f"This calibration was made for latents of shape {self.latent_shapes[key]} (branch {key}), but the "
                f"pipeline runs {list(latent_shape)}: use the calibrated resolution, frame count and batch size "
                f"({ {k: v for k, v in self.generation.items() if k in ('height', 'width', 'num_frames')} })."
            )
