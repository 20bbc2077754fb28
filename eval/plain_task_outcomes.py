"""How the items of each method of a plain-comparison task (``--task vqa``, ``--task image``) ended, for its report.

Scores compare a method with the plain model, so they cover the items both finished (``paired``); the
counts say how many items each method finished, failed (with each error's count) or has no record for.
"""

from __future__ import annotations

from typing import Any


def _status(record: dict[str, Any] | None) -> str:
    return "missing" if record is None else record["status"]


def outcomes(records: list[dict[str, Any] | None]) -> dict[str, Any]:
    """``planned``, ``done``, ``failed``, ``missing`` and ``errors`` (message → count) of one method's records."""
    statuses = [_status(record) for record in records]
    errors: dict[str, int] = {}
    for record in records:
        if _status(record) == "failed":
            errors[record["error"]] = errors.get(record["error"], 0) + 1
    return {"planned": len(records), **{status: statuses.count(status) for status in ("done", "failed", "missing")},
            "errors": errors}


def paired(records: list[dict[str, Any] | None], plain: list[dict[str, Any] | None]) -> list[int]:
    """The item positions where both the method and the plain model finished."""
    return [position for position, (own, reference) in enumerate(zip(records, plain))
            if _status(own) == "done" and _status(reference) == "done"]


def outcome_of(row: dict[str, Any]) -> str:
    """A method's row (``outcomes``) as ``2/3 done, 1 failed``."""
    from .report_text import outcome_text

    return outcome_text(row["done"], row["planned"], row["failed"], row["missing"])
