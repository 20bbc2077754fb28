"""Timing, table and output helpers for the benchmarks (CUDA events, median of repeats)."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any, Callable

import torch

L2_FLUSH_BYTES = 256 * 1024 * 1024  # larger than any current GPU's L2 cache


class Timer:
    """Median milliseconds of ``fn`` over ``repeats`` runs after ``warmup`` runs.

    On CUDA each run is bracketed by CUDA events; with ``flush_l2`` a 256 MiB buffer is
    overwritten before every run (outside the events) so memory-bound kernels read from DRAM.
    On the CPU (``--smoke``) it falls back to ``time.perf_counter``.
    """

    def __init__(self, device: torch.device, warmup: int, repeats: int) -> None:
        self.device, self.warmup, self.repeats = device, warmup, max(1, repeats)
        self._flush_buffer: torch.Tensor | None = None

    def _flush(self) -> None:
        if self._flush_buffer is None:
            self._flush_buffer = torch.empty(L2_FLUSH_BYTES, dtype=torch.uint8, device=self.device)
        self._flush_buffer.zero_()

    def __call__(self, fn: Callable[[], Any], *, flush_l2: bool = False) -> float:
        for _ in range(self.warmup):
            fn()
        if self.device.type != "cuda":
            samples = []
            for _ in range(self.repeats):
                start = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - start) * 1e3)
            return statistics.median(samples)
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        for start, end in zip(starts, ends):
            if flush_l2:
                self._flush()
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(self.device)
        return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends))


def tflops(flops: float, milliseconds: float | None) -> float | None:
    return None if not milliseconds else flops / (milliseconds * 1e-3) / 1e12


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """``||out - ref|| / ||ref||`` in float32."""
    ref = ref.float()
    return float((out.float() - ref).norm() / ref.norm().clamp_min(1e-30))


def format_cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print ``rows`` (dicts) as an aligned text table with the given columns."""
    cells = [[format_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def markdown_table(rows: list[dict[str, Any]], columns: list[str], headers: list[str] | None = None) -> list[str]:
    """``rows`` (dicts) as the lines of a markdown table with the given columns (``headers``: their titles)."""
    lines = ["| " + " | ".join(headers or columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(format_cell(row.get(column)) for column in columns) + " |" for row in rows]
    return lines


def args_record(args: Any) -> dict[str, Any]:
    """A benchmark's command-line settings as JSON can hold them (a ``torch.device`` as its name)."""
    return {key: (str(value) if isinstance(value, torch.device) else value) for key, value in vars(args).items()}


def write_partial(out: str | None, result: dict[str, Any]) -> None:
    """Write what a benchmark has measured so far to ``out``, marked ``"partial": true`` (the final
    ``write_result`` replaces it): a benchmark stopped at a time limit still leaves its numbers."""
    if out:
        from mmcache.files import atomic_write_json

        atomic_write_json(out, {**result, "partial": True})


def lacks_gpu(script: str, device: Any = "cuda") -> bool:
    """True, after saying so on stderr, when ``device`` is a CUDA device and this machine has none."""
    if not str(device).startswith("cuda") or torch.cuda.is_available():
        return False
    print(f"{script} needs a CUDA GPU (or --smoke for a CPU check of the script).", file=sys.stderr)
    return True


def write_result(out: str | None, result: dict[str, Any]) -> None:
    """Write a benchmark's result as JSON to ``out`` (atomically) and say so; nothing when ``out`` is None."""
    if out:
        from mmcache.files import atomic_write_json

        atomic_write_json(out, result)
        print(f"wrote {out}")
