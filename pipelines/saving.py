"""Saving models in the standard layout without paths of the machine they were trained on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

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



def install_folder(source: Path, target: Path, ignore: Callable[..., Any] | None = None) -> None:
    """Replace ``target`` with a copy of ``source`` (kept as it is when it already is ``target``), without
    paths of the training machine."""
    if target.resolve() != source.resolve():
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=ignore)
    forget_source_paths(target)
