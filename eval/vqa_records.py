"""The per-(clip, method) records of ``mmcache eval --task vqa``: ``OUT/items/{method}/clip-{n}.json``.

A record holds one method's answers to the questions about one held-out clip, their times (with the
plain model's on the same clip, measured in the same loop) and KV costs (``schemas.VqaRecord``), or why
they could not be answered (``schemas.VqaFailedRecord``). A record is placed by the clip's index,
caption and questions; reading and writing follow ``plain_task_records``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .calibrated_method import CalibratedMethod
from .plain_task_records import reusable_record, write_failure, write_record
from .schemas import VqaFailedRecord, VqaRecord
from .store import ResultStore

TASK = "vqa"


def record_path(store: ResultStore, label: str, clip: int) -> Path:
    return store.root / "items" / label / f"clip-{clip:04d}.json"


def _place(clip: int, caption: str, questions: list[str]) -> dict[str, Any]:
    return {"clip": clip, "caption": caption, "questions": list(questions)}


def current_record(store: ResultStore, method: CalibratedMethod, clip: int, caption: str, questions: list[str],
                   retry_failed: bool = False) -> dict[str, Any] | None:
    """The record of ``method`` on ``clip`` if it can be reused (``plain_task_records``); ``None`` otherwise."""
    def answer_count(record: dict[str, Any]) -> str | None:
        given = len(record["answers"])
        return None if given == len(questions) else f"field 'answers': expected {len(questions)} answers, got {given}"

    return reusable_record(store, record_path(store, method.label, clip), (VqaRecord, VqaFailedRecord), method,
                           _place(clip, caption, questions), "answered", retry_failed, answer_count)


def write_answers(store: ResultStore, method: CalibratedMethod, clip: int, caption: str, questions: list[str],
                  answered: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    """Store ``method``'s ``answered`` (``answer_clip``) on ``clip``, with the plain model's times of this loop."""
    return write_record(record_path(store, method.label, clip), TASK, method, _place(clip, caption, questions),
                        {**answered, "plain_seconds": plain["seconds"],
                         "plain_prefill_seconds": plain["prefill_seconds"]})


def write_failed(store: ResultStore, method: CalibratedMethod, clip: int, caption: str, questions: list[str],
                 error: BaseException | str) -> dict[str, Any]:
    """Store why ``method`` could not answer ``clip``."""
    return write_failure(record_path(store, method.label, clip), TASK, method, _place(clip, caption, questions), error)
