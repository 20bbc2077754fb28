"""What every side-by-side benchmark of ``eval/`` ends with: the command that ran it, its results and its table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mmcache.files import atomic_write_json, atomic_write_text


def invocation(module: str, argv: list[str] | None) -> str:
    """The command line that ran ``mmcache.eval.<module>`` with ``argv`` (``None``: the process's own arguments)."""
    return f"python -m mmcache.eval.{module} " + " ".join(argv if argv is not None else sys.argv[1:])


def write_outputs(out: Path, data_file: str, data: dict[str, Any], table_file: str, table: str) -> None:
    """``data`` as JSON and ``table`` as Markdown in ``out``, each written atomically; the table printed."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / data_file, data)
    atomic_write_text(out / table_file, table)
    print(table)
