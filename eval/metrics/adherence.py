"""Prompt adherence from the reference models' detector (``mmcache.pipelines.toy.detector``).

The detector reads a caption in the reference models' grammar (colour, shape, direction) and
checks the video against it. It is imported lazily: where it is missing, or a caption is not in
its grammar, adherence is reported as unavailable with the reason, never guessed.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from typing import Any

import numpy as np

from .availability import AVAILABLE, Availability, unavailable

DETECTOR_MODULE = "mmcache.pipelines.toy.detector"


def _detector() -> Any:
    return importlib.import_module(DETECTOR_MODULE)


def detector_availability() -> Availability:
    try:
        module = _detector()
    except ImportError as error:
        return unavailable(f"the reference-model detector ({DETECTOR_MODULE}) is not available: {error}")
    if not hasattr(module, "score_video"):
        return unavailable(f"{DETECTOR_MODULE} has no score_video()")
    return AVAILABLE


def _fields(score: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(score):
        return dataclasses.asdict(score)
    if isinstance(score, dict):
        return dict(score)
    return dict(vars(score))


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=lambda value: value.item() if hasattr(value, "item") else str(value)))


def score_adherence(frames: np.ndarray, caption: str) -> dict[str, Any]:
    """``{"available": True, "ok": bool, "colour_ok": ..., "details": {...}}``, or
    ``{"available": False, "reason": ...}``.

    ``ok`` is the detector's verdict (colour and direction right, shape not judged wrong); a check
    the detector could not judge is ``None``.
    """
    status = detector_availability()
    if not status.available:
        return status.as_dict()
    module = _detector()
    parse = getattr(module, "parse_caption", None)
    try:
        if parse is not None:
            parse(caption)
        score = module.score_video(frames, caption)
    except (ValueError, KeyError, LookupError) as error:
        return unavailable(f"caption not in the reference-model grammar: {error}").as_dict()
    fields = _jsonable(_fields(score))
    checks = {name: None if value is None else bool(value) for name, value in fields.items() if name.endswith("_ok")}
    ok = getattr(score, "ok", fields.get("ok"))
    if ok is None:
        ok = all(value is not False for value in checks.values()) if checks else None
    details = fields.get("details", {name: value for name, value in fields.items() if name not in checks})
    return {"available": True, "ok": None if ok is None else bool(ok), **checks, "details": details}
