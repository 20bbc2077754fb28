"""Cells and sections that the reports of every ``mmcache eval`` task write the same way."""

from __future__ import annotations

from typing import Any

DASH = "—"


def number_text(value: float | None, spec: str, suffix: str = "") -> str:
    """``value`` formatted by ``spec``, or a dash where there is none."""
    return DASH if value is None else f"{value:{spec}}{suffix}"


def on_device(run: dict[str, Any]) -> str:
    """`` on cuda`` for a report's header, or nothing where this run made nothing (``--report-only``)."""
    return f" on {run['device']}" if run.get("device") else ""


def outcome_text(done: int, planned: int, failed: int, missing: int) -> str:
    """``2/3 done, 1 failed`` (and how many are missing)."""
    parts = [f"{done}/{planned} done"]
    parts += [f"{count} {status}" for count, status in ((failed, "failed"), (missing, "missing")) if count]
    return ", ".join(parts)


def failures_section(summaries: dict[str, Any]) -> list[str]:
    """A "Failures" section: per method, each error and on how many items (nothing when none failed)."""
    failures = [(label, summary["errors"]) for label, summary in summaries.items() if summary["errors"]]
    if not failures:
        return []
    lines = ["## Failures", ""]
    for label, errors in failures:
        lines += [f"- `{label}`: {error} ({count} item{'s' if count > 1 else ''})" for error, count in errors.items()]
    return lines + [""]
