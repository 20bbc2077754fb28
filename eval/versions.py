"""The versions of mmcache and the libraries a result depends on, recorded in every ``results.json``."""

from __future__ import annotations

import importlib


def versions(*libraries: str) -> dict[str, str]:
    """``{"mmcache": ..., library: ...}`` for each of ``libraries`` (importable module names)."""
    import mmcache

    return {"mmcache": mmcache.__version__,
            **{name: importlib.import_module(name).__version__ for name in libraries}}
