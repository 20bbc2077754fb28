"""What a benchmark's stored run was made with, so that a rerun reuses it only when nothing that matters changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmcache.methods.base import behaviour_identity


def config_identity(config: Any) -> dict[str, Any] | None:
    """The config as a dict, with a calibration named by its file (``None``: the plain pipeline), in the form JSON
    gives back (a tuple field as a list), so that it equals what a stored run holds."""
    if config is None:
        return None
    identity = json.loads(json.dumps(config.to_dict()))
    if identity.get("calibration"):
        identity["calibration"] = Path(identity["calibration"]).name
    return identity


def method_identity(config: Any) -> dict[str, Any]:
    """``{"config": ...}`` and, past a method's first behaviour version, ``{"behaviour": version}``."""
    return {"config": config_identity(config), **behaviour_identity(config)}
