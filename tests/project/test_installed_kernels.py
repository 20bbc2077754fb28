"""The checkout's top-level ``kernels/`` folder must not hide Hugging Face's ``kernels`` package."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import mmcache, kernels
from diffusers import AutoencoderKLWan
from transformers import UMT5EncoderModel
print(kernels.__file__)
"""


def test_diffusers_and_transformers_import_from_the_repository_root():
    """`python -c` from the root puts the checkout first on sys.path, as `python -m pytest` does."""
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = Path(result.stdout.strip().splitlines()[-1]).resolve()
    try:
        importlib.metadata.distribution("kernels")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("Hugging Face's kernels package is not installed: nothing to shadow")
    assert ROOT / "kernels" not in loaded.parents, f"the checkout's folder was imported as `kernels`: {loaded}"


def test_nothing_is_loaded_when_kernels_is_already_imported(monkeypatch):
    from mmcache.installed_kernels import load_installed_kernels

    monkeypatch.setitem(sys.modules, "kernels", object())
    assert load_installed_kernels() is False
