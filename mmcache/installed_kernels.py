"""Keep the checkout's ``kernels/`` folder from hiding Hugging Face's ``kernels`` package.

mmcache installs its top-level ``kernels/`` folder as ``mmcache.kernels``. When Python runs from the
repository root (``python -m pytest``, ``python -m mmcache.pipelines.toy.train ...``) that root comes
first on ``sys.path``, so a plain ``import kernels`` finds the folder instead of the PyPI distribution
of the same name. transformers (since 5.25 a hard dependency) and diffusers import that distribution
whenever it is installed, and then fail with ``cannot import name ... from 'kernels'``. Importing
mmcache first loads the installed distribution under its own name, so every later import gets it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

_DISTRIBUTION = "kernels"
_CHECKOUT_MARKER = "block_sparse_attention.py"  # a file only mmcache's kernels folder has


def _installed_init() -> Path | None:
    """The ``__init__.py`` of the installed ``kernels`` distribution, or None when it is absent."""
    try:
        distribution = importlib.metadata.distribution(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    init = Path(str(distribution.locate_file("kernels/__init__.py")))
    return init if init.is_file() else None


def _found_folder() -> Path | None:
    """The folder a plain ``import kernels`` would load now, without importing it."""
    spec = importlib.util.find_spec(_DISTRIBUTION)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent


def load_installed_kernels() -> bool:
    """Import the installed ``kernels`` distribution if the checkout's folder would shadow it.

    Returns True when it was loaded here, False when nothing needed doing (already imported, not
    installed, or not shadowed).
    """
    if _DISTRIBUTION in sys.modules:
        return False
    installed = _installed_init()
    found = _found_folder()
    if installed is None or found is None or found == installed.resolve().parent:
        return False
    if not (found / _CHECKOUT_MARKER).is_file():
        return False
    spec = importlib.util.spec_from_file_location(
        _DISTRIBUTION, installed, submodule_search_locations=[str(installed.parent)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_DISTRIBUTION] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_DISTRIBUTION]
        raise
    return True
