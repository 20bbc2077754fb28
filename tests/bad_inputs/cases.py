"""The case types of the tables, and how a CLI case is run in-process and checked."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from mmcache.pipelines.loader import bundled_path

USAGE = 2  # argparse: a malformed flag value, an unknown flag, a missing required flag
BAD_INPUT = 1  # everything else: one line "mmcache <command>: error: ..."

Setup = Callable[[Path], None]


@dataclasses.dataclass(frozen=True)
class CliCase:
    """``mmcache <argv>`` with ``{tmp}`` replaced by a fresh folder, after ``setup(tmp)``.

    ``message`` must appear in stderr; ``before_load``: no model may be loaded on the way.
    """

    id: str
    argv: tuple[str, ...]
    code: int
    message: str
    setup: Setup | None = None
    before_load: bool = True
    needs_bundled: bool = False

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


def cli(id: str, argv: str | list[str], code: int, message: str, **options: Any) -> Any:
    """A table row: ``argv`` as one string split on spaces (or a list, for values with spaces)."""
    words = tuple(argv.split()) if isinstance(argv, str) else tuple(argv)
    return CliCase(id, words, code, message, **options).param()


def bundled_present() -> bool:
    return (bundled_path("toy-t2v") / "model_index.json").is_file()


def make_file(relative: str, text: str = "") -> Setup:
    """A setup that writes ``text`` to ``tmp/relative``."""
    def setup(tmp: Path) -> None:
        path = tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return setup


def make_folder(relative: str) -> Setup:
    def setup(tmp: Path) -> None:
        (tmp / relative).mkdir(parents=True, exist_ok=True)

    return setup


def assert_one_line_error(code: int, expected_code: int, out: str, err: str, message: str) -> None:
    """The exit code, one non-empty stderr line holding ``message``, and no traceback anywhere."""
    assert "Traceback" not in out + err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == expected_code, f"exit code {code}, stderr: {err}"
    assert len(lines) == 1, f"expected one line, got: {err}"
    assert message in lines[0], f"{message!r} not in {lines[0]!r}"
    assert lines[0].startswith("mmcache"), lines[0]


def json_editors(valid: Callable[[], dict[str, Any]]) -> tuple[Callable[[str, Any], str], Callable[[str], str]]:
    """``(changed, without)`` for a table of files: ``changed(path, value)`` is ``valid()`` with the field at
    ``path`` (dot-separated) set to ``value``, ``without(field)`` is it without ``field``, both as JSON."""
    return (lambda path, value: json_with(valid(), path, value)), (lambda field: json_without(valid(), field))


def json_with(data: dict[str, Any], path: str, value: Any) -> str:
    """``data`` with the field at ``path`` (dot-separated) set to ``value``, as JSON."""
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
    return json.dumps(data)


def json_without(data: dict[str, Any], field: str) -> str:
    """``data`` without its top-level ``field``, as JSON."""
    del data[field]
    return json.dumps(data)
