"""The per-(item, method) records of the tasks that compare methods with the plain model (``--task vqa``, ``--task
image``): ``OUT/items/{method}/{item}.json``, each task naming its items and the fields that place a record.

A record is written atomically once its item is finished (``status`` ``done``, the default of records without one)
or has failed (``status: failed``, with the error). A rerun reuses a record only when it is valid, made for that
place and method, and with the method's current fingerprint; a failed record only without ``--retry-failed``. An
invalid or misplaced record is reported in one notice and made again.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from mmcache.files import atomic_write_json

from .calibrated_method import CalibratedMethod
from .records import error_fields
from .store import ResultStore
from .validated_files import InvalidFileError, as_dict, read_validated

RECORD_SCHEMA = 1


def _write(path: Path, task: str, method: CalibratedMethod, place: dict[str, Any], status: str,
           fields: dict[str, Any]) -> dict[str, Any]:
    record = {"schema": RECORD_SCHEMA, "task": task, "method": method.label, "fingerprint": method.fingerprint,
              **place, "status": status, **fields,
              "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(path, record)
    return record


def write_record(path: Path, task: str, method: CalibratedMethod, place: dict[str, Any],
                 fields: dict[str, Any]) -> dict[str, Any]:
    """Write the done record of ``method`` at ``place`` (the fields that identify its item) with ``fields``."""
    return _write(path, task, method, place, "done", fields)


def write_failure(path: Path, task: str, method: CalibratedMethod, place: dict[str, Any],
                  error: BaseException | str) -> dict[str, Any]:
    """Write why ``method`` did not finish at ``place`` (an exception, or a reason)."""
    return _write(path, task, method, place, "failed", error_fields(error))


def _schema(path: Path, done: type[BaseModel], failed: type[BaseModel]) -> type[BaseModel]:
    """The schema of the record's ``status`` (``failed``, else ``done``, which reports a wrong one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return done
    return failed if isinstance(data, dict) and data.get("status") == "failed" else done


def _mismatch(record: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """Which field says the record was made for another place, or ``None``."""
    for field, value in expected.items():
        if record[field] != value:
            return f"field '{field}': expected {value!r} (this file's place), got {record[field]!r}"
    return None


def reusable_record(store: ResultStore, path: Path, schemas: tuple[type[BaseModel], type[BaseModel]],
                    method: CalibratedMethod, place: dict[str, Any], redo: str, retry_failed: bool,
                    done_problem: Callable[[dict[str, Any]], str | None] | None = None) -> dict[str, Any] | None:
    """The record at ``path`` if it can be reused (see the module docstring), else ``None``.

    ``schemas``: the task's (done, failed) record schemas; ``redo``: the task's verb in the notice ("answered");
    ``done_problem(record)``: what else makes a done record misplaced, or ``None``."""
    if not path.exists():
        return None
    try:
        record = as_dict(read_validated(path, _schema(path, *schemas)))
        problem = _mismatch(record, {"method": method.label, **place})
        if problem is None and record["status"] == "done" and done_problem is not None:
            problem = done_problem(record)
        if problem is not None:
            raise InvalidFileError(f"{path} is invalid: {problem}.")
    except InvalidFileError as error:
        store.notice(f"{error} It will be {redo} again.")
        return None
    if record["fingerprint"] != method.fingerprint or (record["status"] == "failed" and retry_failed):
        return None
    return record
