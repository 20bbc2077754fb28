"""Which share of the items this process evaluates, when launched by ``accelerate launch`` / torchrun.

A plain ``mmcache eval`` is one process. Under ``accelerate launch`` (any number of processes and
nodes; the output folder must be shared between nodes) accelerate's ``PartialState`` gives this
process's index; items are dealt round-robin, every process writes its own item records, and the
main process merges them after a barrier. On machines without GPUs the processes use gloo.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
# Processes finish their shares at different times; the barrier must outwait the slowest.
BARRIER_TIMEOUT = datetime.timedelta(hours=48)


@dataclasses.dataclass(frozen=True)
class ProcessInfo:
    index: int
    count: int
    device: str | None
    wait_for_everyone: Callable[[], None]

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def share(self, items: Sequence[T]) -> list[T]:
        """This process's items: every ``count``-th, starting at ``index``."""
        return list(items[self.index::self.count])


def launched_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def current_process(device: str | None = None) -> ProcessInfo:
    """This process's place in the launch (a lone process when not launched by accelerate/torchrun)."""
    if launched_world_size() <= 1:
        from mmcache.pipelines.loader import default_device

        return ProcessInfo(0, 1, device or str(default_device()), lambda: None)
    import torch
    from accelerate import PartialState

    cpu = device == "cpu" or not torch.cuda.is_available()
    state = PartialState(cpu=cpu, timeout=BARRIER_TIMEOUT)
    return ProcessInfo(state.process_index, state.num_processes, device or str(state.device), state.wait_for_everyone)


def hardware_name(device: str | None) -> str:
    """The accelerator's name (e.g. ``NVIDIA H100 80GB HBM3``), or the CPU's, for the report."""
    import platform

    import torch

    if device and device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({platform.processor() or platform.machine()})"
