"""The per-(clip, method) records of ``mmcache eval --task vqa``: ``OUT/items/{method}/clip-{n}.json``.

A record holds one method's answers to the questions about one held-out clip, their times (with the
plain model's on the same clip, measured in the same loop) and KV costs (``schemas.VqaRecord``). It is
written atomically once the clip is answered, so a record on disk is finished work. A rerun reuses a
record only when it is valid, made for that clip (index, caption, questions) and method, and with the
method's current fingerprint; an invalid or foreign one is reported in one notice and answered again.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from mmcache.files import atomic_write_json

from .schemas import VqaRecord
from .store import ResultStore
from .validated_files import InvalidFileError, as_dict, read_validated
from .calibrated_method import CalibratedMethod

RECORD_SCHEMA = 1


def record_path(store: ResultStore, label: str, clip: int) -> Path:
    return store.root / "items" / label / f"clip-{clip:04d}.json"


def _mismatch(record: dict[str, Any], label: str, clip: int, caption: str, questions: list[str]) -> str | None:
    """Which field says the record was made for another place, or ``None``."""
    expected = {"method": label, "clip": clip, "caption": caption, "questions": questions}
    for field, value in expected.items():
        if record[field] != value:
            return f"field '{field}': expected {value!r} (this file's place), got {record[field]!r}"
    if len(record["answers"]) != len(questions):
        return f"field 'answers': expected {len(questions)} answers, got {len(record['answers'])}"
    return None


def current_record(store: ResultStore, method: CalibratedMethod, clip: int, caption: str,
                   questions: list[str]) -> dict[str, Any] | None:
    """The record of ``method`` on ``clip`` if it can be reused (see the module docstring); ``None`` otherwise."""
    path = record_path(store, method.label, clip)
    if not path.exists():
        return None
    try:
        record = as_dict(read_validated(path, VqaRecord))
        problem = _mismatch(record, method.label, clip, caption, questions)
        if problem is not None:
            raise InvalidFileError(f"{path} is invalid: {problem}.")
    except InvalidFileError as error:
        store.notice(f"{error} It will be answered again.")
        return None
    return record if record["fingerprint"] == method.fingerprint else None


def write_record(store: ResultStore, method: CalibratedMethod, clip: int, caption: str, questions: list[str],
                 answered: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    """Store ``method``'s ``answered`` (``answer_clip``) on ``clip``, with the plain model's times of this loop."""
    record = {"schema": RECORD_SCHEMA, "task": "vqa", "method": method.label, "fingerprint": method.fingerprint,
              "clip": clip, "caption": caption, "questions": list(questions), **answered,
              "plain_seconds": plain["seconds"], "plain_prefill_seconds": plain["prefill_seconds"],
              "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(record_path(store, method.label, clip), record)
    return record
