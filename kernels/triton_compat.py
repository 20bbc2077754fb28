"""Imports Triton when it is installed; otherwise a stand-in so the references still import.

The kernels are decorated at import time. Triton reads ``TRITON_INTERPRET`` at that moment: set
``TRITON_INTERPRET=1`` before importing ``mmcache.kernels`` to run the kernels on the CPU.
"""

from __future__ import annotations

from typing import Any, Callable

try:
    import triton
    import triton.language as tl

    HAS_TRITON = True
except ImportError:  # pragma: no cover - exercised only where triton is not installed
    HAS_TRITON = False

    class _MissingLanguage:
        """Just enough of ``triton.language`` for the kernel signatures to be defined."""

        constexpr = Any

    class _MissingTriton:
        @staticmethod
        def jit(fn: Callable) -> Callable:
            return fn

        @staticmethod
        def cdiv(a: int, b: int) -> int:
            return -(-a // b)

        @staticmethod
        def next_power_of_2(n: int) -> int:
            return 1 << max(0, int(n) - 1).bit_length()

    triton = _MissingTriton()  # type: ignore[assignment]
    tl = _MissingLanguage()  # type: ignore[assignment]


def is_interpreted(kernel: object) -> bool:
    """Whether ``kernel`` was decorated while ``TRITON_INTERPRET=1`` (it then runs on the CPU)."""
    if not HAS_TRITON:
        return False
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(kernel, InterpretedFunction)


__all__ = ["HAS_TRITON", "is_interpreted", "tl", "triton"]
