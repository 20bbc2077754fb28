"""Method specs as written on command lines: ``name`` or ``name:key=value,key=value``."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from ..errors import ConfigError
from .base import MethodConfig, registered_methods


def parse_value(text: str) -> Any:
    """JSON scalars and lists (numbers, true/false/null, [..]); anything else stays a string (e.g. a path).

    ``NaN`` and ``Infinity`` are refused: no method parameter takes them.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{text!r} is not a finite number.")
    return value


def split_top_level(body: str) -> list[str]:
    """Split on commas that are not inside [...] (so list values such as [1,3,5] stay whole)."""
    parts, depth, current = [], 0, []
    for char in body:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def split_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"easycache:threshold=0.1"`` → ``("easycache", {"threshold": 0.1})`` (any method name, peers too)."""
    name, _, body = spec.strip().partition(":")
    params: dict[str, Any] = {}
    for item in split_top_level(body):
        key, equals, raw = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ConfigError(f"Bad parameter {item!r} in {spec!r}: write key=value.")
        if key in params:
            raise ConfigError(f"Parameter {key!r} is given twice in {spec!r}.")
        params[key] = parse_value(raw.strip())
    return name.strip(), params


def parse_method_spec(spec: str) -> MethodConfig:
    """``"easycache:threshold=0.1,warmup_steps=5"`` → ``EasyCacheConfig(threshold=0.1, warmup_steps=5)``.

    ``preset=FAMILY`` starts from that model family's preset of the method (where it has one).
    """
    name, values = split_spec(spec)
    methods = registered_methods()
    if name not in methods:
        raise ConfigError(f"Unknown method {name!r} in {spec!r}; known methods: {sorted(methods)}.")
    config_class = methods[name]
    preset = values.pop("preset", None)
    fields = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"{name} has no parameter(s) {unknown}; valid: {sorted(fields)}"
                          + (" and preset" if hasattr(config_class, "preset") else "") + ".")
    if preset is not None:
        if not hasattr(config_class, "preset"):
            raise ConfigError(f"{name} has no presets.")
        return config_class.preset(str(preset), **values)
    return config_class(**values)


def format_method_spec(config: MethodConfig) -> str:
    """The inverse of ``parse_method_spec`` (all fields written out)."""
    data = config.to_dict()
    data.pop("method")
    body = ",".join(
        f"{key}={value if isinstance(value, str) else json.dumps(list(value) if isinstance(value, tuple) else value)}"
        .replace(" ", "")
        for key, value in data.items()
    )
    return f"{config.method}:{body}" if body else config.method
