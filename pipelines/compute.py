"""Count the multiply-accumulates of a denoiser's linear layers during a generation.

A method-agnostic measure of work done: a reused denoiser call runs no linear layer, a peer that
skips blocks inside the call (FirstBlockCache, MagCache, TaylorSeer, ...) runs fewer. Linear layers
hold almost all of a DiT's parameters and, with attention, its FLOPs; attention's own
``QK^T``/``PV`` products are not counted. Hooks add per-layer Python overhead, so timings taken
while counting are not comparable with uncounted ones.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import torch


class LinearMacCounter:
    """Accumulates ``tokens x in_features x out_features`` for every ``nn.Linear`` forward."""

    def __init__(self) -> None:
        self.macs = 0

    def _hook(self, module: torch.nn.Linear, inputs: tuple) -> None:
        tensor = inputs[0]
        self.macs += (tensor.numel() // module.in_features) * module.in_features * module.out_features


@contextlib.contextmanager
def count_linear_macs(modules: Iterable[torch.nn.Module]) -> Iterator[LinearMacCounter]:
    """Count the linear-layer MACs of ``modules`` (and their children) inside the block."""
    counter = LinearMacCounter()
    handles = [layer.register_forward_pre_hook(counter._hook)
               for module in modules for layer in module.modules() if isinstance(layer, torch.nn.Linear)]
    try:
        yield counter
    finally:
        for handle in handles:
            handle.remove()
