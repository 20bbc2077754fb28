"""One `mmcache eval` at a time per output folder: a lock file naming who holds it.

``OUT/.mmcache-eval.lock`` holds the owner's pid, host and start time (``schemas.LockOwner``). It
is created complete or not at all (written beside, then hard-linked into place, which fails when
the lock exists). A second run into the folder is refused with the owner named. A lock left by a
process that no longer runs on this host is taken over with a one-line notice; a lock from another
host cannot be checked and is never taken over (delete it by hand once that run is gone).
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .errors import EvalError
from .schemas import LockOwner
from .validated_files import InvalidFileError, read_validated

LOCK_NAME = ".mmcache-eval.lock"
TAKEOVER_ATTEMPTS = 3


class FolderBusyError(EvalError):
    """Another live `mmcache eval` holds the output folder."""


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe(owner: LockOwner) -> str:
    return f"process {owner.pid} on {owner.host}, started {owner.started_at}"


class FolderLock:
    """The lock of one output folder; ``acquire()`` then ``release()`` (or use it as a context manager)."""

    def __init__(self, root: str | os.PathLike, notify: Callable[[str], None] | None = None) -> None:
        self.path = Path(root) / LOCK_NAME
        self.notify = notify or (lambda message: print(message, file=sys.stderr))
        self.owner = LockOwner(pid=os.getpid(), host=platform.node() or "unknown",
                               started_at=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                               command=" ".join(sys.argv[:1] + sys.argv[1:])[:500])
        self.held = False

    def _create(self) -> bool:
        """Create the lock with this process as owner; ``False`` if it already exists."""
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f"{LOCK_NAME}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(self.owner.model_dump_json())
            os.link(temporary, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)

    def _stale_reason(self) -> tuple[str, bytes] | None:
        """Why the existing lock may be taken over and its content then; ``None`` when it vanished meanwhile.

        Raises ``FolderBusyError`` when its owner may still run."""
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            owner = read_validated(self.path, LockOwner)
        except InvalidFileError as error:
            return f"its lock file was unreadable ({str(error).rstrip('.')})", content
        if owner.host != self.owner.host:
            raise FolderBusyError(
                f"{self.path.parent} is in use by {_describe(owner)} (another host: it cannot be checked from "
                f"here). Wait for that run, use another --out, or delete {self.path} if that run is gone.")
        if owner.pid != self.owner.pid and not process_alive(owner.pid):
            return f"{_describe(owner)}, which is no longer running", content
        raise FolderBusyError(f"{self.path.parent} is in use by {_describe(owner)}. Wait for it to finish or use "
                              "another --out.")

    def _move_away(self, judged: bytes) -> bool:
        """Remove the lock if it still holds ``judged``; put back one that another run created meanwhile."""
        private = Path(f"{self.path}.stale.{os.getpid()}")
        try:
            os.rename(self.path, private)
        except FileNotFoundError:
            return False
        try:
            if private.read_bytes() == judged:
                return True
            try:  # a live run's fresh lock: restore it (unless yet another one is in place already)
                os.link(private, self.path)
            except FileExistsError:
                pass
            return False
        finally:
            private.unlink(missing_ok=True)

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(TAKEOVER_ATTEMPTS):
            if self._create():
                self.held = True
                return
            stale = self._stale_reason()
            if stale is not None and self._move_away(stale[1]):
                self.notify(f"mmcache eval: taking over the lock of {self.path.parent}: {stale[0]}.")
        raise FolderBusyError(f"Could not lock {self.path.parent}: other runs keep taking it. Use another --out.")

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        if not self.held:
            return
        self.held = False
        try:
            owner = read_validated(self.path, LockOwner)
        except InvalidFileError:
            return
        if (owner.pid, owner.host, owner.started_at) == (self.owner.pid, self.owner.host, self.owner.started_at):
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
