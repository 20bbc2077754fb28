"""The schema of a calibration file, checked on load: every field typed, finite and consistent.

A file that does not fit gets one ``ConfigError`` naming the file, the field and what is expected,
before any generation starts (not a ``KeyError`` at the first reused step, nor NaN frames).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pydantic

from ..errors import ConfigError

FORMAT_VERSION = 2
METHODS = ("ertacache", "prefixkv", "hack")

StrictFloat = pydantic.StrictFloat | pydantic.StrictInt


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class TargetModel(_Strict):
    pipeline_class: str | None
    denoiser_classes: list[str] = pydantic.Field(min_length=1)
    denoiser_config_hashes: list[str] = pydantic.Field(min_length=1)
    scheduler_class: str | None


class RectificationTerm(_Strict):
    slope: list[StrictFloat] = pydantic.Field(min_length=1)
    intercept: list[StrictFloat] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _same_length(self) -> "RectificationTerm":
        if len(self.slope) != len(self.intercept):
            raise ValueError(f"slope has {len(self.slope)} values but intercept {len(self.intercept)}")
        return self


class CalibrationModel(_Strict):
    """The JSON layout of ``Calibration.to_dict()``."""

    version: int
    method: str
    target: TargetModel
    num_steps: int = pydantic.Field(ge=1)
    latent_shapes: dict[str, list[pydantic.PositiveInt]] = pydantic.Field(min_length=1)
    generation: dict[str, str | bool | int | float]
    threshold: StrictFloat = pydantic.Field(gt=0)
    reuse_steps: list[int]
    time_scale: dict[str, StrictFloat]
    time_scale_unrectified: dict[str, StrictFloat] = {}
    rectification: dict[str, dict[str, RectificationTerm]]
    channel_dim: int
    prompts: list[str]
    seeds: list[int]
    first_step_branches: list[str] = []
    diagnostics: dict[str, Any] = {}

    @pydantic.field_validator("method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        if method != "ertacache":
            raise ValueError("must be one of ['ertacache']")
        return method

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> "CalibrationModel":
        steps = set(range(self.num_steps))
        bad = [step for step in self.reuse_steps if step not in steps]
        if bad:
            raise ValueError(f"reuse_steps {bad} are outside the {self.num_steps} calibrated steps (0..{self.num_steps - 1})")
        if len(set(self.reuse_steps)) != len(self.reuse_steps):
            raise ValueError("reuse_steps has repeated steps")
        reused = {str(step) for step in self.reuse_steps}
        for name in ("time_scale", "time_scale_unrectified"):
            for step, phi in getattr(self, name).items():
                if step not in reused or not 0.0 <= phi <= 1.0:
                    raise ValueError(f"{name}[{step!r}] must belong to a reused step and lie in [0, 1], got {phi}")
        for key, terms in self.rectification.items():
            shape = self.latent_shapes.get(key)
            if shape is None:
                raise ValueError(f"rectification branch {key!r} has no entry in latent_shapes")
            if not -len(shape) <= self.channel_dim < len(shape):
                raise ValueError(f"channel_dim {self.channel_dim} does not index latents of shape {shape}")
            channels = shape[self.channel_dim]
            for step, term in terms.items():
                if step not in reused:
                    raise ValueError(f"rectification[{key!r}][{step!r}] is not a reused step")
                if len(term.slope) not in (1, channels):
                    raise ValueError(f"rectification[{key!r}][{step!r}] has {len(term.slope)} values; expected 1 or "
                                     f"{channels} (one per latent channel)")
        return self


class VLMTargetModel(_Strict):
    model_class: str
    language_model_class: str
    language_model_config_hash: str
    num_layers: pydantic.PositiveInt


class PrefixKVCalibrationModel(_Strict):
    """The JSON layout of ``PrefixKVCalibration.to_dict()``: per-layer eviction fractions for one budget."""

    version: int
    method: Literal["prefixkv"]
    target: VLMTargetModel
    budget: StrictFloat = pydantic.Field(gt=0, le=1)
    evict_fractions: list[StrictFloat] = pydantic.Field(min_length=1)
    samples: pydantic.PositiveInt
    prompt_lengths: list[pydantic.PositiveInt] = []
    diagnostics: dict[str, Any] = {}

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> "PrefixKVCalibrationModel":
        if len(self.evict_fractions) != self.target.num_layers:
            raise ValueError(f"evict_fractions has {len(self.evict_fractions)} values but the model has "
                             f"{self.target.num_layers} layers")
        bad = [value for value in self.evict_fractions if not 0.0 <= value < 1.0]
        if bad:
            raise ValueError(f"evict_fractions must lie in [0, 1), got {bad[0]}")
        return self


class VARTargetModel(_Strict):
    transformer_class: str
    config_hash: str
    num_layers: pydantic.PositiveInt
    num_heads: pydantic.PositiveInt
    patch_nums: list[pydantic.PositiveInt] = pydantic.Field(min_length=1)


class HACKCalibrationModel(_Strict):
    """The JSON layout of ``HACKCalibration.to_dict()``: each VAR head's class and the scores behind it."""

    version: int
    method: Literal["hack"]
    target: VARTargetModel
    contextual_fraction: StrictFloat = pydantic.Field(ge=0, le=1)
    contextual_heads: list[list[pydantic.NonNegativeInt]]
    head_scores: list[list[StrictFloat]]
    layer_selectivity: list[StrictFloat]
    samples: pydantic.PositiveInt
    prompts: list[str] = []

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> "HACKCalibrationModel":
        layers, heads = self.target.num_layers, self.target.num_heads
        for name in ("contextual_heads", "head_scores", "layer_selectivity"):
            if len(getattr(self, name)) != layers:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries but the model has {layers} layers")
        if any(len(row) != heads for row in self.head_scores):
            raise ValueError(f"every row of head_scores needs {heads} values (one per head)")
        if any(head >= heads for row in self.contextual_heads for head in row):
            raise ValueError(f"contextual_heads names a head outside 0 … {heads - 1}")
        return self


MODELS: dict[str, type[_Strict]] = {"ertacache": CalibrationModel, "prefixkv": PrefixKVCalibrationModel,
                                    "hack": HACKCalibrationModel}


def _location(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def validate_calibration(data: Any, source: Path | str, method: str = "ertacache") -> Any:
    """Check ``data`` (parsed JSON) against the schema of ``method``'s calibration; one ``ConfigError`` naming
    ``source`` otherwise (a file made for the other method included)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source} is not a valid mmcache calibration file: expected a JSON object, got "
                          f"{type(data).__name__}. Create one with `mmcache calibrate`.")
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise ConfigError(f"{source}: calibration format version {version!r} is not supported (expected "
                          f"{FORMAT_VERSION}); re-run `mmcache calibrate` with this version of mmcache.")
    found = data.get("method")
    if found in METHODS and found != method:
        raise ConfigError(f"{source} is a {found} calibration file, but {method} needs its own: create one with "
                          f"`mmcache calibrate --method {method}`.")
    try:
        return MODELS[method].model_validate(data)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        value = first.get("input")
        shown = f" (got {value!r})" if not isinstance(value, (dict, list)) else ""
        raise ConfigError(f"{source} is not a valid mmcache calibration file: field {_location(first)}: "
                          f"{first['msg']}{shown}. Re-create it with `mmcache calibrate`.") from None
