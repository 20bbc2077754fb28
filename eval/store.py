"""The output folder: where videos, per-item records and reports live, all written atomically.

    OUT/run_config.json              the settings this folder holds results for
    OUT/prompts.json                 the prompts, with the file-name stem of each
    OUT/videos/{method}/{prompt}-{i}.mp4   VBench naming; i = index of the seed in --seeds
    OUT/items/{method}/{item key}.json     one record per finished (or failed) generation
    OUT/calibration/                 what peers calibrated (e.g. MagCache ratios)
    OUT/vbench/{method}/             VBench's own output when it ran
    OUT/results.json, OUT/report.md, OUT/pareto.png

A record is written after its video, so a record on disk means the item is complete; an
interrupted run leaves no partial file behind (``mmcache.files`` writes through a temporary file).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from mmcache.files import atomic_write_json

from .errors import EvalError
from .plan import EvalItem, config_differences

RUN_CONFIG = "run_config.json"
RESULT_ENTRIES = ("videos", "items", "calibration", "vbench", "results.json", "report.md", "pareto.png",
                  "prompts.json", RUN_CONFIG)


class ResultStore:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def video_path(self, label: str, item: EvalItem) -> Path:
        return self.root / "videos" / label / item.video_name

    def record_path(self, label: str, item: EvalItem) -> Path:
        return self.root / "items" / label / f"{item.key}.json"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    @property
    def calibration_dir(self) -> Path:
        return self.root / "calibration"

    def read_record(self, label: str, item: EvalItem) -> dict[str, Any] | None:
        path = self.record_path(label, item)
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def is_finished(self, label: str, item: EvalItem, fingerprint: str, retry_failed: bool = False) -> bool:
        """A record for this method's current parameters exists (and its video, if it succeeded)."""
        record = self.read_record(label, item)
        if record is None or record.get("fingerprint") != fingerprint:
            return False
        if record.get("status") == "failed":
            return not retry_failed
        return self.video_path(label, item).is_file()

    def write_record(self, label: str, item: EvalItem, record: dict[str, Any]) -> None:
        atomic_write_json(self.record_path(label, item), record)

    def check_writable(self) -> None:
        """Create the folder and prove a file can be written there, or raise one clear error."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".mmcache-eval-write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise EvalError(f"Cannot write to the output folder {str(self.root)!r}: "
                            f"{error.strerror or error}. Choose another --out.") from error

    def adopt_run_config(self, config: dict[str, Any], force: bool) -> None:
        """Record ``config`` for a new folder; refuse a folder made for other settings unless ``force``."""
        path = self.root / RUN_CONFIG
        if path.is_file():
            stored = json.loads(path.read_text())
            changes = config_differences(stored, config)
            if changes and not force:
                raise EvalError(f"{self.root} holds results for other settings ({'; '.join(changes)}). Use another "
                                "--out, or --force to delete those results and start over.")
            if changes:
                self.clear()
        atomic_write_json(path, config)

    def clear(self) -> None:
        """Delete what an earlier evaluation wrote (only the entries this tool creates)."""
        for name in RESULT_ENTRIES:
            target = self.root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
