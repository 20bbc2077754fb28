"""The JSON record of one (item, method) generation, written to ``items/{method}/{item}.json``."""

from __future__ import annotations

import datetime
import hashlib
import platform
import traceback
from typing import Any

import numpy as np

from mmcache.pipelines.generation import GenerationResult

from .distributed import ProcessInfo
from .methods import EvalMethod
from .plan import EvalItem

RECORD_SCHEMA = 1


def frames_digest(frames: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()


def _common(method: EvalMethod, item: EvalItem, process: ProcessInfo) -> dict[str, Any]:
    return {
        "schema": RECORD_SCHEMA,
        "method": method.label,
        "fingerprint": method.fingerprint,
        "item": item.describe(),
        "process": {"index": process.index, "count": process.count, "host": platform.node(),
                    "device": process.device},
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def done_record(method: EvalMethod, item: EvalItem, process: ProcessInfo, result: GenerationResult,
                video: str, metrics: dict[str, Any], extra: dict[str, Any] | None = None,
                video_bytes: int | None = None) -> dict[str, Any]:
    """``video_bytes``: the written file's size, which a rerun compares to trust the file without decoding it."""
    stats = result.stats
    return {
        **_common(method, item, process),
        "status": "done",
        "video": video,
        "video_bytes": video_bytes,
        "wall_seconds": result.wall_seconds,
        "denoiser_seconds": stats.denoiser_seconds,
        "denoiser_calls": stats.calls,
        "denoiser_computed": stats.computed,
        "denoiser_macs": result.denoiser_macs,
        "peak_memory_bytes": result.peak_memory_bytes,
        "timeline": "".join("C" if record.computed else "." for record in stats.timeline),
        "frames_shape": list(result.frames.shape),
        "frames_sha256": frames_digest(result.frames),
        "metrics": metrics,
        **(extra or {}),
    }


def error_fields(error: BaseException | str, context: str = "") -> dict[str, Any]:
    """``error`` (first line, ``context`` prefixing an exception's) and ``error_detail`` (the traceback's end)."""
    if isinstance(error, BaseException):
        message = context + f"{type(error).__name__}: {error}".strip()
        detail = "".join(traceback.format_exception(type(error), error, error.__traceback__)[-3:])
    else:
        message, detail = error, None
    return {"error": message.splitlines()[0][:500], "error_detail": detail}


def failed_record(method: EvalMethod, item: EvalItem, process: ProcessInfo, error: BaseException | str,
                  context: str = "") -> dict[str, Any]:
    """A record saying why this generation did not happen (``context`` prefixes the message)."""
    return {**_common(method, item, process), "status": "failed", **error_fields(error, context)}
