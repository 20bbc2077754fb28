"""Command-line values for the fields of a diffusers cache config dataclass, checked and converted."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from ..errors import EvalError


def settable_fields(config_type: type) -> dict[str, dataclasses.Field]:
    """Fields a user may set on the command line: not callbacks, not private."""
    return {field.name: field for field in dataclasses.fields(config_type)
            if not field.name.startswith("_") and "Callable" not in str(field.type)}


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def coerce_field(owner: str, field: dataclasses.Field, value: Any) -> Any:
    """``value`` (parsed from the command line) converted to what ``field`` holds, or ``EvalError``."""
    default, type_text = _default(field), str(field.type)

    def bad(expected: str) -> EvalError:
        return EvalError(f"{owner}: {field.name} must be {expected}, got {value!r}.")

    if "dtype" in type_text:
        if value is None or isinstance(value, torch.dtype):
            return value
        dtype = getattr(torch, str(value), None)
        if not isinstance(dtype, torch.dtype):
            raise bad("a torch dtype name such as float32 or bfloat16")
        return dtype
    if value is None:
        if default is None or "None" in type_text or "Optional" in type_text:
            return None
        raise bad("a value (not null)")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int) or type_text.startswith("int"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("an integer")
        return value
    if isinstance(default, float) or type_text.startswith("float"):
        if not _is_number(value):
            raise bad("a number")
        return float(value)
    if isinstance(default, tuple) or "tuple" in type_text:
        if not isinstance(value, (list, tuple)):
            raise bad("a list such as [100,800]")
        return tuple(value)
    if "list" in type_text.lower():
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        return list(value)
    return value


def coerce_params(owner: str, config_type: type, params: dict[str, Any],
                  reserved: tuple[str, ...] = ()) -> dict[str, Any]:
    """All ``params`` converted; an unknown or reserved name is an ``EvalError`` listing the valid ones."""
    fields = {name: field for name, field in settable_fields(config_type).items() if name not in reserved}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise EvalError(f"{owner} has no parameter(s) {unknown}; valid: {sorted(fields)}.")
    return {name: coerce_field(owner, fields[name], value) for name, value in params.items()}
