"""Shared settings of the evaluation tests: the reference model when its weights exist, else a tiny one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mmcache.pipelines.loader import bundled_path

TINY_MODEL = "tiny:wan2.1-t2v"
STEPS = 6
FRAMES = 5  # two latent frames: the fewest that still give a video (temporal metrics, h264) to check


def reference_model_present() -> bool:
    return (bundled_path("toy-t2v") / "model_index.json").is_file()


def model_name() -> str:
    return "toy-t2v" if reference_model_present() else TINY_MODEL


def model_args() -> list[str]:
    """toy-t2v with few steps and frames where its weights are present; otherwise the tiny random Wan pipeline.

    Both are Wan-style pipelines run through the same code; the tiny one keeps the suite runnable
    in a checkout without the trained reference weights.
    """
    return ["--model", model_name(), "--steps", str(STEPS), "--frames", str(FRAMES)]


class ConfigCalls:
    """Stands in for ``module.name``, a function given a method config (``None``: the plain model) as positional
    argument ``config_at``: counts the calls by config type (``NoneType`` for the plain model) and raises
    ``RuntimeError(message)`` on the ``fail_at``-th call under a config of type ``fail_type``."""

    def __init__(self, monkeypatch: Any, module: Any, name: str, config_at: int, fail_type: str = "",
                 fail_at: int = 0, message: str = "") -> None:
        self.original, self.config_at = getattr(module, name), config_at
        self.fail_type, self.fail_at, self.message = fail_type, fail_at, message
        self.calls: list[str] = []
        monkeypatch.setattr(module, name, self)

    def __call__(self, *args: Any) -> Any:
        kind = type(args[self.config_at]).__name__
        self.calls.append(kind)
        if kind == self.fail_type and self.calls.count(kind) == self.fail_at:
            raise RuntimeError(self.message)
        return self.original(*args)


def refuse_loading(monkeypatch: Any) -> None:
    """Make loading any pipeline fail the test (a run that should generate nothing)."""
    import mmcache.pipelines.loader as loader

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(loader, "load", refuse)


def copy_without_reports(finished: Path, out: Path) -> Path:
    """A copy of the output folder ``finished`` at ``out`` without its results.json and report.md."""
    shutil.copytree(finished, out)
    (out / "results.json").unlink()
    (out / "report.md").unlink()
    return out
