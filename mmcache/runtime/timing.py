"""Forward timers that never force a device synchronisation on the hot path."""

from __future__ import annotations

import time

import torch


class ForwardTimer:
    """Times one denoiser forward: CUDA events on a GPU (read lazily), ``perf_counter`` elsewhere."""

    def __init__(self, device: torch.device) -> None:
        self._cuda = device.type == "cuda"
        if self._cuda:
            self._start = torch.cuda.Event(enable_timing=True)
            self._end = torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._t0 = time.perf_counter()
            self._elapsed: float | None = None

    def stop(self) -> None:
        if self._cuda:
            self._end.record()
        else:
            self._elapsed = time.perf_counter() - self._t0

    def seconds(self) -> float | None:
        """Elapsed seconds, or ``None`` if the forward has not finished (or raised)."""
        if self._cuda:
            if not self._end.query():
                self._end.synchronize()
            try:
                return self._start.elapsed_time(self._end) / 1000.0
            except RuntimeError:
                return None
        return self._elapsed
