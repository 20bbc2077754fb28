"""Chooses between the Triton kernels and the PyTorch references (``backend=...``)."""

from __future__ import annotations

import os

import torch

from .triton_compat import HAS_TRITON, is_interpreted

BACKENDS = ("auto", "triton", "reference")


def interpreter_requested() -> bool:
    """Whether ``TRITON_INTERPRET=1`` is set in the environment right now."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def choose_backend(backend: str, tensors: list[torch.Tensor], kernels: list[object]) -> str:
    """Resolve ``backend`` to ``"triton"`` or ``"reference"`` for these inputs and kernels.

    ``auto`` runs Triton when every tensor is on CUDA and triton imports, the reference otherwise.
    ``triton`` on CPU tensors runs the kernels in the Triton interpreter, which must have been
    switched on (``TRITON_INTERPRET=1``) before ``mmcache.kernels`` was imported.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    on_cuda = all(t.is_cuda for t in tensors)
    if backend == "reference":
        return "reference"
    if backend == "auto":
        return "triton" if (on_cuda and HAS_TRITON) else "reference"
    if not HAS_TRITON:
        raise RuntimeError("backend='triton' needs the `triton` package; install it or use backend='reference'")
    if not on_cuda:
        if not interpreter_requested():
            raise RuntimeError(
                "backend='triton' on CPU tensors runs the Triton interpreter: set TRITON_INTERPRET=1 in the "
                "environment before importing mmcache.kernels (or move the tensors to a CUDA device)"
            )
        if not all(is_interpreted(kernel) for kernel in kernels):
            raise RuntimeError(
                "TRITON_INTERPRET=1 was set after mmcache.kernels was imported, so its kernels were compiled for "
                "the GPU; set it before the first import to run them on CPU tensors"
            )
    return "triton"
