"""The output folder: where videos, per-item records and reports live, all written atomically.

    OUT/run_config.json              the settings this folder holds results for
    OUT/prompts.json                 the prompts, with the file-name stem of each
    OUT/videos/{method}/{prompt}-{i}.mp4   VBench naming; i = index of the seed in --seeds
    OUT/items/{method}/{item key}.json     one record per finished (or failed) generation
    OUT/calibration/                 what peers calibrated (e.g. MagCache ratios)
    OUT/vbench/{method}/             VBench's own output when it ran
    OUT/results.json, OUT/report.md, OUT/pareto.png

A folder of ``--task vqa`` holds ``items/{method}/clip-{n}.json`` records (``vqa_records``), the
PrefixKV calibrations it made in ``calibration/``, ``results.json``, ``report.md`` and
``run_config.json``. A folder of ``--task image`` holds ``images/{method}/{image}-{seed index}.png``,
``items/{method}/{image}-{seed index}.json`` records (``image_records``), the HACK calibration it made in
``calibration/``, ``results.json``, ``report.md`` and ``run_config.json``. A run of one task is refused in
a folder of another unless ``--force``.

A record is written after its video, so a record on disk means the item is complete; an
interrupted run leaves no partial file behind (``mmcache.files`` writes through a temporary file).
Every file read back is validated (``schemas``): an invalid record, or a done record whose video is
missing, empty, cut short or undecodable, counts as not done (with a one-line notice) and is
generated again; an invalid ``run_config.json`` is one error naming the file and the field.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from mmcache.files import atomic_write_json

from .errors import EvalError
from .plan import EvalItem, config_differences
from .schemas import ImageRunConfig, ItemRecord, RunConfig, VqaRunConfig
from .validated_files import InvalidFileError, as_dict, read_validated
from .video_check import video_problem

RUN_CONFIG = "run_config.json"
RESULT_ENTRIES = ("videos", "images", "items", "calibration", "vbench", "results.json", "report.md", "pareto.png",
                  "prompts.json", RUN_CONFIG)
RUN_CONFIG_SCHEMAS = {"vqa": VqaRunConfig, "image": ImageRunConfig}  # by "task"; video runs have none


def _task(config: dict[str, Any]) -> str:
    """The task a run configuration is for (video runs have no ``task`` field)."""
    return config.get("task", "video")


def _task_change(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    return [f"--task {_task(stored)}, not {_task(current)}"] if _task(stored) != _task(current) else []


def _run_config_schema(path: Path) -> Any:
    """The schema of the task a file names (``"task": "vqa"`` or ``"image"``), else ``RunConfig`` (which reports
    what is wrong)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return RunConfig
    task = data.get("task") if isinstance(data, dict) else None
    return RUN_CONFIG_SCHEMAS.get(task, RunConfig) if isinstance(task, str) else RunConfig


def _print_notice(message: str) -> None:
    print(message, file=sys.stderr)


class ResultStore:
    """The output folder. ``notify`` receives the one-line notices about files that will be regenerated."""

    def __init__(self, root: str | os.PathLike, notify: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        self.notify = notify or _print_notice
        self._noticed: set[str] = set()
        self._video_checks: dict[tuple[Path, int, int], str | None] = {}

    def notice(self, message: str) -> None:
        """Print ``message`` as a one-line notice (once per run)."""
        if message not in self._noticed:
            self._noticed.add(message)
            self.notify(f"mmcache eval: {message}")

    def video_path(self, label: str, item: EvalItem) -> Path:
        return self.root / "videos" / label / item.video_name

    def record_path(self, label: str, item: EvalItem) -> Path:
        return self.root / "items" / label / f"{item.key}.json"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    @property
    def calibration_dir(self) -> Path:
        return self.root / "calibration"

    def load_record(self, label: str, item: EvalItem) -> dict[str, Any] | None:
        """The validated record of ``label`` on ``item``; ``None`` when there is none.

        Raises ``InvalidFileError`` for a record that cannot be used (not JSON, wrong fields, or
        made for another item or method)."""
        path = self.record_path(label, item)
        if not path.exists():
            return None
        record = as_dict(read_validated(path, ItemRecord, tag_field="status"))
        for field, expected in (("item.key", item.key), ("method", label)):
            value = record["item"]["key"] if field == "item.key" else record["method"]
            if value != expected:
                raise InvalidFileError(f"{path} is invalid: field '{field}': expected {expected!r} (this file's "
                                       f"place), got {value!r}.")
        return record

    def read_record(self, label: str, item: EvalItem) -> dict[str, Any] | None:
        """``load_record``, with an invalid record reported once and treated as absent."""
        try:
            return self.load_record(label, item)
        except InvalidFileError as error:
            self.notice(f"{error} It will be generated again.")
            return None

    def video_problem(self, label: str, item: EvalItem, record: dict[str, Any]) -> str | None:
        """Why the video of a done record is not usable, or ``None`` (checked once per file version)."""
        path = self.video_path(label, item)
        try:
            stat = path.stat()
        except OSError:
            return "is missing"
        key = (path, stat.st_size, stat.st_mtime_ns)
        if key not in self._video_checks:
            self._video_checks[key] = video_problem(path, record["frames_shape"], record.get("video_bytes"))
        return self._video_checks[key]

    def current_record(self, label: str, item: EvalItem, fingerprint: str) -> dict[str, Any] | None:
        """The record of ``label`` on ``item`` if it is valid, made with ``fingerprint`` and, when done,
        its video is intact; ``None`` otherwise."""
        record = self.read_record(label, item)
        if record is None or record["fingerprint"] != fingerprint:
            return None
        if record["status"] == "done":
            problem = self.video_problem(label, item, record)
            if problem is not None:
                self.notice(f"{self.video_path(label, item)} {problem}; it will be generated again.")
                return None
        return record

    def is_finished(self, label: str, item: EvalItem, fingerprint: str, retry_failed: bool = False) -> bool:
        """A current record exists (see ``current_record``); a failed one counts unless ``retry_failed``."""
        record = self.current_record(label, item, fingerprint)
        if record is None:
            return False
        return record["status"] == "done" or not retry_failed

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
        if path.exists():
            try:
                stored = as_dict(read_validated(path, _run_config_schema(path)))
            except InvalidFileError as error:
                if not force:
                    raise InvalidFileError(f"{error} Fix or delete it (the results there are matched to the "
                                           "current settings item by item), or pass --force to delete the "
                                           "folder's results and start over.") from None
                stored = None
            changes = ["run_config.json invalid"] if stored is None else _task_change(stored, config) or \
                config_differences(stored, config)
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
