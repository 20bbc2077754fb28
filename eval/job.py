"""What one process is asked to evaluate, and which of it is still to do."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .methods import EvalMethod
from .plan import EvalItem, EvalSettings
from .store import ResultStore


@dataclasses.dataclass
class EvalJob:
    settings: EvalSettings
    items: list[EvalItem]
    methods: list[EvalMethod]
    store: ResultStore
    fps: int = 8
    retry_failed: bool = False
    show_progress: bool = True
    # called after each record is written (tests use it to see what a run wrote)
    on_record: Callable[[str, EvalItem, dict[str, Any]], None] | None = None


def pending_work(job: EvalJob, items: list[EvalItem]) -> dict[EvalItem, list[EvalMethod]]:
    """Per item, the methods without a current record (baseline first when pending)."""
    work = {}
    for item in items:
        methods = [method for method in job.methods
                   if not job.store.is_finished(method.label, item, method.fingerprint, job.retry_failed)]
        if methods:
            work[item] = methods
    return work
