"""Saving models in the standard layout without paths of the machine they were trained on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULTS_FILE = "mmcache_defaults.json"  # a pipeline folder's call settings (see loader.read_defaults)


def forget_source_paths(folder: Path) -> None:
    """Drop ``_name_or_path`` (where a component was loaded from, often an absolute path on the training
    machine) from every ``config.json`` under ``folder``, so shipped weights say nothing about that machine."""
    for config in Path(folder).rglob("config.json"):
        values = json.loads(config.read_text())
        if values.pop("_name_or_path", None) is not None:
            config.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


def save_component(model: Any, folder: Path) -> None:
    """``save_pretrained`` of one model (safetensors), without the path it was loaded from."""
    model.save_pretrained(str(folder), safe_serialization=True)
    forget_source_paths(folder)

