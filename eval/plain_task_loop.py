"""The loop of a task that compares methods with the plain model (``--task vqa``, ``--task image``).

Items are numbered by their position in the run. On each item with pending methods the plain model runs
first (its output is what the methods are compared and timed against), then each pending method; every
(item, method) ends in a record as soon as it is finished. A method that raises gets a failed record with
the error and the loop goes on; when the plain model raises on an item, every pending method of that item
(the plain model's own record too) is recorded as failed. ``--retry-failed`` runs failed records again
(``plain_task_records``).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from tqdm.auto import tqdm

from .calibrated_method import CalibratedMethod
from .plain_task_specs import PLAIN
from .records import error_fields

Stored = dict[str, list[Any]]  # method label -> per item position: its reusable record (or the task's wrapper), None


class ItemWork(Protocol):
    """What a task does on one item (by position); ``done`` and ``failed`` write the record and return what
    ``stored`` keeps for it."""

    def plain(self, position: int) -> Any:
        """The plain model's output on the item (not stored; ``done`` stores the plain model's)."""

    def done(self, position: int, method: CalibratedMethod, plain: Any) -> Any:
        """Run ``method`` on the item (the plain model: ``plain`` itself) and store it."""

    def failed(self, position: int, method: CalibratedMethod, error: BaseException | str) -> Any:
        """Store why ``method`` did not finish on the item."""


def pending_work(count: int, methods: list[CalibratedMethod], current: Callable[[int, CalibratedMethod], Any],
                 stored: Stored) -> dict[int, list[CalibratedMethod]]:
    """Per item position, the methods without a reusable record (``current`` returns it, or ``None``); ``stored``
    receives the reusable ones."""
    pending: dict[int, list[CalibratedMethod]] = {}
    for position in range(count):
        for method in methods:
            stored[method.label][position] = current(position, method)
            if stored[method.label][position] is None:
                pending.setdefault(position, []).append(method)
    return pending


def run_pending(work: ItemWork, pending: dict[int, list[CalibratedMethod]], stored: Stored, description: str,
                unit: str, quiet: bool) -> int:
    """Run every pending (item, method), the plain model first on each item; returns how many records were written."""
    written = 0
    with tqdm(total=len(pending), desc=description, unit=unit, disable=quiet, dynamic_ncols=True) as bar:
        for position, methods in pending.items():
            try:
                plain, plain_error = work.plain(position), None
            except Exception as error:  # recorded for every pending method of this item
                plain, plain_error = None, error
            for method in methods:
                bar.set_postfix_str(method.label, refresh=False)
                stored[method.label][position] = _one(work, position, method, plain, plain_error)
                written += 1
            bar.update(1)
    return written


def _one(work: ItemWork, position: int, method: CalibratedMethod, plain: Any, plain_error: Exception | None) -> Any:
    if plain_error is not None:
        if method.label == PLAIN:
            return work.failed(position, method, plain_error)
        return work.failed(position, method, f"the plain run of this item failed "
                                             f"({error_fields(plain_error)['error']})")
    try:
        return work.done(position, method, plain)
    except Exception as error:  # a failed record; the run goes on
        return work.failed(position, method, error)
