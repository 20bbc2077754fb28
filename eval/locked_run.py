"""One run of a task that writes into one output folder (``--task vqa``, ``--task image``), from lock to unlock."""

from __future__ import annotations

from typing import Any, Callable

from .folder_lock import FolderLock
from .store import ResultStore


def run_locked(store: ResultStore, config: dict[str, Any], force: bool, evaluate: Callable[[], int]) -> int:
    """``evaluate()`` in ``store``'s folder: made writable, locked (``folder_lock``) and holding ``config``'s results
    (a folder made for other settings refused unless ``force``); unlocked afterwards, also after an error."""
    lock = FolderLock(store.root)
    try:
        store.check_writable()
        lock.acquire()
        store.adopt_run_config(config, force)
        return evaluate()
    finally:
        lock.release()
