"""Damaged files in a finished `mmcache eval` output folder, and what a rerun into it does.

``RECOVERED``: the rerun prints one notice naming the file (none for the reports it rewrites
anyway), regenerates what it stood for, exits 0
and leaves every other finished file as it was. ``REFUSED``: the rerun stops with one error line.
Each ``damage(out)`` edits the finished folder ``out`` (one prompt, seed 0, the baseline and one
EasyCache setting on a tiny pipeline).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

METHOD = "easycache-threshold=0.5-warmup_steps=1"


@dataclasses.dataclass(frozen=True)
class FileCase:
    id: str
    damage: Callable[[Path], None]
    message: str
    regenerated: tuple[str, ...] = ()  # labels whose record must be rewritten

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


def record_path(out: Path, label: str) -> Path:
    return next((out / "items" / label).glob("*.json"))


def video_path(out: Path, label: str) -> Path:
    return next((out / "videos" / label).glob("*.mp4"))


def write_record(label: str, text: str) -> Callable[[Path], None]:
    return lambda out: record_path(out, label).write_text(text)


def edit_record(label: str, **changes: Any) -> Callable[[Path], None]:
    """Set fields of a record (``item__key`` for ``item.key``; the value ``...`` deletes the field)."""
    def damage(out: Path) -> None:
        path = record_path(out, label)
        record = json.loads(path.read_text())
        for dotted, value in changes.items():
            *parents, last = dotted.split("__")
            target = record
            for parent in parents:
                target = target[parent]
            if value is ...:
                del target[last]
            else:
                target[last] = value
        path.write_text(json.dumps(record))

    return damage


def cut_record(label: str) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        path = record_path(out, label)
        path.write_bytes(path.read_bytes()[:40])

    return damage


def video_bytes(label: str, keep: float | None = None, junk: bool = False) -> Callable[[Path], None]:
    """Empty the video (``keep`` None), keep its first ``keep`` share, or replace it with junk."""
    def damage(out: Path) -> None:
        path = video_path(out, label)
        data = path.read_bytes()
        path.write_bytes(os.urandom(4000) if junk else data[: int(len(data) * keep)] if keep else b"")

    return damage


def remove_video(label: str) -> Callable[[Path], None]:
    return lambda out: video_path(out, label).unlink()


def shorter_video(label: str) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        from mmcache.video import read_mp4, write_mp4

        path = video_path(out, label)
        write_mp4(read_mp4(path)[:2], path)

    return damage


def unsized(label: str, damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """``damage``, on a record that does not give its video's size."""
    def both(out: Path) -> None:
        edit_record(label, video_bytes=...)(out)
        damage(out)

    return both


def run_config(text: str) -> Callable[[Path], None]:
    return lambda out: (out / "run_config.json").write_text(text)


def run_config_edit(**changes: Any) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        config = json.loads((out / "run_config.json").read_text())
        config.update(changes)
        for key in [key for key, value in changes.items() if value is ...]:
            del config[key]
        (out / "run_config.json").write_text(json.dumps(config))

    return damage


def run_config_folder(out: Path) -> None:
    (out / "run_config.json").unlink()
    (out / "run_config.json").mkdir()


def lock(pid: int, host: str | None = None) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        owner = {"pid": pid, "host": host or platform.node(), "started_at": "2026-01-01T00:00:00+00:00"}
        (out / ".mmcache-eval.lock").write_text(json.dumps(owner))

    return damage


def dead_pid() -> int:
    """The id of a process that has already exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def garbage_lock(out: Path) -> None:
    (out / ".mmcache-eval.lock").write_text("{\"pid\": ")


RECOVERED = [
    FileCase("record-is-a-list", write_record("baseline", "[]"), "is invalid: expected a JSON object, got []",
             ("baseline",)),
    FileCase("record-metrics-null", edit_record(METHOD, metrics=None), "field 'metrics': input should be a valid "
             "dictionary", (METHOD,)),
    FileCase("record-truncated", cut_record(METHOD), "is not valid JSON", (METHOD,)),
    FileCase("record-empty", write_record("baseline", ""), "is empty", ("baseline",)),
    FileCase("record-status-unknown", edit_record("baseline", status="finished"), "field 'status'", ("baseline",)),
    FileCase("record-negative-time", edit_record("baseline", wall_seconds=-1.0),
             "field 'wall_seconds': input should be greater than 0", ("baseline",)),
    FileCase("record-nan-time", edit_record(METHOD, wall_seconds=float("nan")),
             "field 'wall_seconds': input should be a finite number", (METHOD,)),
    FileCase("record-time-as-text", edit_record(METHOD, denoiser_calls="12"),
             "field 'denoiser_calls': input should be a valid integer", (METHOD,)),
    FileCase("record-for-another-item", edit_record("baseline", item__key="0000000000000000"),
             "field 'item.key': expected", ("baseline",)),
    FileCase("record-frames-shape", edit_record(METHOD, frames_shape=[5, 16]), "field 'frames_shape'", (METHOD,)),
    FileCase("record-missing-field", edit_record("baseline", fingerprint=...), "field 'fingerprint' is missing",
             ("baseline",)),
    FileCase("video-empty", video_bytes("baseline"), "is empty (0 bytes); it will be generated again",
             ("baseline",)),
    FileCase("video-truncated", video_bytes(METHOD, keep=0.9), "bytes, its record says", (METHOD,)),
    FileCase("video-junk", video_bytes("baseline", junk=True), "has 4000 bytes, its record says", ("baseline",)),
    FileCase("video-missing", remove_video(METHOD), "is missing; it will be generated again", (METHOD,)),
    FileCase("video-short", shorter_video("baseline"), "(cut short or replaced?)", ("baseline",)),
    # records without the video's size (as older runs wrote them): the video is decoded
    FileCase("unsized-video-truncated", unsized(METHOD, video_bytes(METHOD, keep=0.9)),
             "(truncated?); it will be generated again", (METHOD,)),
    FileCase("unsized-video-junk", unsized("baseline", video_bytes("baseline", junk=True)), "cannot be decoded",
             ("baseline",)),
    FileCase("unsized-video-short", unsized("baseline", shorter_video("baseline")),
             "holds 2 frames, its record says 5", ("baseline",)),
    FileCase("results-garbage", lambda out: (out / "results.json").write_text("{"), ""),  # rewritten, no notice
    FileCase("lock-stale", lambda out: lock(dead_pid())(out), "which is no longer running"),
    FileCase("lock-garbage", garbage_lock, "its lock file was unreadable"),
]

REFUSED = [
    FileCase("run-config-list", run_config("[]"), "run_config.json is invalid: expected a JSON object, got []"),
    FileCase("run-config-truncated", run_config("{\"model\": \"tiny:wan2.1-t2v\", \"ste"),
             "run_config.json is not valid JSON"),
    FileCase("run-config-empty", run_config(""), "run_config.json is empty"),
    FileCase("run-config-steps-text", run_config_edit(steps="six"),
             "run_config.json is invalid: field 'steps': input should be a valid integer, got \"six\""),
    FileCase("run-config-seeds-missing", run_config_edit(seeds=...), "field 'seeds' is missing"),
    FileCase("run-config-is-a-folder", run_config_folder, "run_config.json cannot be read"),
    FileCase("lock-live-process", lambda out: lock(os.getppid())(out), f"is in use by process {os.getppid()}"),
    FileCase("lock-other-host", lock(4242, "another-host.example"),
             "is in use by process 4242 on another-host.example"),
]
