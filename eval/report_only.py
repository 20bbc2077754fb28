"""What ``--report-only`` needs, the same for every ``mmcache eval`` task: no flag that only matters when something
runs, and a folder that holds records to report."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import EvalError


def check_report_only_flags(args: argparse.Namespace) -> None:
    """``--report-only`` generates nothing: ``--force`` and ``--retry-failed`` beside it are one error."""
    for flag in ("force", "retry_failed"):
        if args.report_only and getattr(args, flag):
            raise EvalError(f"--report-only generates nothing, so --{flag.replace('_', '-')} has nothing to do; "
                            "leave one of them out.")


def check_has_records(out: str, task: str) -> None:
    """A folder without a single record has nothing to report: one error saying which run makes them."""
    if not any((Path(out) / "items").rglob("*.json")):
        raise EvalError(f"--report-only: {out} holds no records to report. Run `mmcache eval --task {task} --out "
                        f"{out}` with the same settings and without --report-only first.")
