"""The Gradio demo: baseline vs accelerated side by side, with the cache decisions made visible.

``mmcache demo`` launches it; ``build_app()`` / ``launch()`` (in ``mmcache.demos.app``) do the same
from Python. Importing this package does not import Gradio.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "launch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
