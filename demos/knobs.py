"""The knobs of each cache method, read from its config dataclass, and the config built back from them.

Every registered method appears in the demo without edits: each dataclass field becomes one knob
whose kind follows the field's type (number, integer, on/off, auto/on/off, integer list, text).
Fields that name a file (``calibration``, ``*_path``, ``*_file``) become file knobs. Known fields
get friendlier ranges (the reuse ``threshold`` is a slider; a threshold that may be ``None`` is a number box
that may be left empty).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from typing import Any, Literal, Union

from mmcache.methods.base import MethodConfig, registered_methods
from mmcache.pipelines.loader import method_preset

KnobKind = Literal["threshold", "float", "int", "bool", "optional_bool", "int_list", "float_list", "file", "text"]

TRI_STATE = {"auto": None, "on": True, "off": False}
FILE_FIELD = re.compile(r"^calibration$|_path$|_file$")
THRESHOLD_FIELD = re.compile(r"(^|_)threshold$")
THRESHOLD_SLIDER_MAX = 1.0
UPLOAD_SUFFIX = "_upload"


class KnobError(ValueError):
    """A knob value that cannot become a method parameter."""


@dataclasses.dataclass(frozen=True)
class Knob:
    """One method parameter as a demo control. ``name`` is the API parameter name (``method_field``)."""

    method: str
    field: str
    kind: KnobKind
    default: Any
    help: str = ""
    optional: bool = False  # the field also takes None (an empty control)

    @property
    def name(self) -> str:
        return f"{self.method}_{self.field}"

    @property
    def label(self) -> str:
        return self.field.replace("_", " ")


def _is_optional(annotation: Any) -> tuple[bool, Any]:
    """``(True, X)`` for ``X | None``; ``(False, annotation)`` otherwise."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1 and len(typing.get_args(annotation)) == 2:
            return True, members[0]
    return False, annotation


def _kind_of(field_name: str, annotation: Any) -> KnobKind:
    if FILE_FIELD.search(field_name):
        return "file"
    optional, inner = _is_optional(annotation)
    if inner is bool:
        return "optional_bool" if optional else "bool"
    if inner is float and THRESHOLD_FIELD.search(field_name) and not optional:  # a slider cannot be left empty
        return "threshold"
    if inner in (float, int):
        return "float" if inner is float else "int"
    if typing.get_origin(inner) in (tuple, list) and all(arg in (int, Ellipsis) for arg in typing.get_args(inner)):
        return "int_list"
    if typing.get_origin(inner) in (tuple, list) and all(arg in (float, Ellipsis) for arg in typing.get_args(inner)):
        return "float_list"
    return "text"


def field_help(config_class: type) -> dict[str, str]:
    """Per-field descriptions from the ``Args:`` section of a config class docstring."""
    doc = config_class.__doc__ or ""
    if "Args:" not in doc:
        return {}
    helps: dict[str, str] = {}
    current = None
    for line in doc.split("Args:", 1)[1].splitlines():
        match = re.match(r"^\s{4,8}(\w+):\s*(.*)$", line)
        if match:
            current = match.group(1)
            helps[current] = match.group(2).strip()
        elif current and line.strip():
            helps[current] += " " + line.strip()
        elif not line.strip() and current:
            current = None
    return {name: text.replace("``", "") for name, text in helps.items()}


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return None


def method_knobs(method: str) -> list[Knob]:
    """The knobs of one registered method, in field order."""
    return knobs_of(method, registered_methods()[method])


def knobs_of(method: str, config_class: type) -> list[Knob]:
    """The knobs of a config dataclass, in field order."""
    hints = typing.get_type_hints(config_class)
    helps = field_help(config_class)
    return [Knob(method, field.name, _kind_of(field.name, hints.get(field.name, Any)), _field_default(field),
                 helps.get(field.name, ""), _is_optional(hints.get(field.name, Any))[0])
            for field in dataclasses.fields(config_class) if field.init]


def all_knobs() -> dict[str, list[Knob]]:
    """Method name → its knobs, for every registered method."""
    return {method: method_knobs(method) for method in sorted(registered_methods())}


def preset_values(method: str, model: str) -> dict[str, Any]:
    """The method's settings tuned for the model (``method_presets`` beside its weights), or nothing."""
    values = method_preset(model, method)
    if not values:
        return {}
    config = registered_methods()[method](**values)
    return {key: value for key, value in config.to_dict().items() if key != "method"}


def display_value(knob: Knob, value: Any) -> Any:
    """A parameter value as its control shows it."""
    if knob.kind == "optional_bool":
        return next(label for label, flag in TRI_STATE.items() if flag is value)
    if knob.kind in ("int_list", "float_list"):
        return ", ".join(str(item) for item in (value or ()))
    if knob.kind in ("file", "text"):
        return "" if value is None else str(value)
    return value


def _readable_file(knob: Knob, path: str) -> str:
    """``path`` if it is a file this process can read, else a ``KnobError`` saying why not."""
    if not os.path.exists(path):
        raise KnobError(f"{knob.method} {knob.label}: file {path!r} does not exist.")
    if not os.path.isfile(path):
        raise KnobError(f"{knob.method} {knob.label}: {path!r} is not a file.")
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as error:
        raise KnobError(f"{knob.method} {knob.label}: cannot read {path!r} ({error.strerror or error}).") from error
    return path


def _finite(knob: Knob, value: Any, what: str) -> float:
    """``value`` as a finite float, or a ``KnobError`` naming the knob."""
    try:
        number = float(value) if value is not None and not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        raise KnobError(f"{knob.method} {knob.label} needs {what}, got {value!r}.")
    return number


def parameter_value(knob: Knob, value: Any) -> Any:
    """A control's value as the config field expects it; ``KnobError`` with a clear message if it can't be."""
    if knob.kind == "optional_bool":
        if value not in TRI_STATE:
            raise KnobError(f"{knob.method} {knob.label} must be one of {list(TRI_STATE)}, got {value!r}.")
        return TRI_STATE[value]
    if knob.optional and (value is None or value == ""):
        return None
    if knob.kind in ("threshold", "float"):
        return _finite(knob, value, "a number")
    if knob.kind == "int":
        number = _finite(knob, value, "a whole number")
        if number != int(number):
            raise KnobError(f"{knob.method} {knob.label} needs a whole number, got {value!r}.")
        return int(number)
    if knob.kind == "bool":
        return bool(value)
    if knob.kind == "int_list":
        text = "" if value is None else str(value).strip().strip("[]()")
        try:
            return tuple(int(part) for part in re.split(r"[,\s]+", text) if part)
        except ValueError:
            raise KnobError(f"{knob.method} {knob.label} needs whole numbers separated by commas, "
                            f"got {value!r}.") from None
    if knob.kind == "float_list":
        parts = [part for part in re.split(r"[,\s]+", "" if value is None else str(value).strip().strip("[]()")) if part]
        return tuple(_finite(knob, part, "numbers separated by commas") for part in parts)
    if knob.kind == "file":
        path = "" if value is None else str(value).strip()
        return _readable_file(knob, path) if path else None
    return None if value is None or value == "" else value


def initial_values(method: str, model: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Field → starting value: the field default, then the model's preset, then ``overrides``."""
    values = {knob.field: knob.default for knob in method_knobs(method)}
    values.update(preset_values(method, model))
    values.update(overrides or {})
    return values


def merge_uploads(values: dict[str, Any]) -> dict[str, Any]:
    """Knob values with each file knob's upload (``<name>_upload``) taking precedence over its typed path."""
    merged = {name: value for name, value in values.items() if not name.endswith(UPLOAD_SUFFIX)}
    for name, value in values.items():
        if name.endswith(UPLOAD_SUFFIX) and value:
            merged[name[: -len(UPLOAD_SUFFIX)]] = value
    return merged


def build_config(method: str, values: dict[str, Any]) -> MethodConfig:
    """The config of ``method`` from knob values keyed by knob name; missing knobs keep their defaults.

    Raises ``KnobError`` for a value no control could produce and the config's own ``ConfigError``
    for values it rejects (both carry a message meant for the user).
    """
    if method not in registered_methods():
        raise KnobError(f"Unknown method {method!r}; choose one of {sorted(registered_methods())}.")
    parameters = {knob.field: parameter_value(knob, values[knob.name])
                  for knob in method_knobs(method) if knob.name in values}
    return registered_methods()[method](**parameters)
