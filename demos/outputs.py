"""Where the demo writes its videos and plots: a private temporary folder, pruned as it goes.

Gradio copies every returned file into its own cache, so only recent runs need to stay on disk;
baseline videos live as long as their ``BaselineCache`` entry. The folder is removed at exit.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import uuid
import weakref
from pathlib import Path

import numpy as np

from mmcache.video import upscale, write_mp4

VIEWING_SIDE = 256


def viewing_scale(frames: np.ndarray, side: int = VIEWING_SIDE) -> int:
    """Integer nearest-neighbour factor that brings the shorter side to at least ``side`` pixels."""
    return max(1, side // max(1, min(frames.shape[1:3])))


class OutputFolder:
    """A temporary folder holding ``baselines/`` and the ``keep`` most recent ``runs/<id>/``."""

    def __init__(self, root: str | Path | None = None, keep: int = 32) -> None:
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="mmcache-demo-"))
        self.keep = keep
        self._runs: list[Path] = []
        self._lock = threading.Lock()
        (self.root / "baselines").mkdir(parents=True, exist_ok=True)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        if root is None:
            weakref.finalize(self, shutil.rmtree, self.root, ignore_errors=True)

    def new_run(self) -> Path:
        """A fresh folder for one request's files; the oldest beyond ``keep`` are deleted."""
        folder = self.root / "runs" / uuid.uuid4().hex[:12]
        folder.mkdir()
        with self._lock:
            self._runs.append(folder)
            stale, self._runs = self._runs[: -self.keep], self._runs[-self.keep:]
        for old in stale:
            shutil.rmtree(old, ignore_errors=True)
        return folder

    def baseline_video(self, key: object) -> Path:
        """The path of the baseline video for a ``BaselineKey``."""
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        return self.root / "baselines" / f"baseline-{digest}.mp4"


def write_viewing_video(frames: np.ndarray, path: Path, fps: int = 8) -> Path:
    """H.264 MP4 of ``frames``, upscaled for viewing (metrics always use the native frames)."""
    return write_mp4(upscale(frames, viewing_scale(frames)), path, fps=fps)
