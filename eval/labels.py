"""Filesystem-safe, readable labels for method specs (used as folder names under videos/ and items/)."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePath
from typing import Any

MAX_LABEL_LENGTH = 96
UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def _value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "_".join(_value_text(item) for item in value)
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    text = str(value)
    if "/" in text or "\\" in text:
        text = PurePath(text.replace("\\", "/")).name  # a path: its file name says enough
    return text


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def method_label(name: str, params: dict[str, Any]) -> str:
    """``easycache`` + ``{threshold: 0.1}`` → ``easycache-threshold=0.1``; long labels end with a hash."""
    parts = [name] + [f"{key}={_value_text(value)}" for key, value in params.items()]
    label = "-".join(UNSAFE.sub("_", part).strip("_") or "_" for part in parts)
    if len(label) > MAX_LABEL_LENGTH:
        label = f"{label[:MAX_LABEL_LENGTH - 9]}-{short_hash(label)}"
    return label
