"""Keep mmcache's hooks beneath accelerate's model-offload hooks.

``enable_model_cpu_offload`` wraps each model's ``forward`` with accelerate and, at the end of every
pipeline call, removes and re-adds that wrapper, restoring the ``forward`` it saw when first
added. A diffusers hook registered *after* offloading would therefore be silently dropped; lifting
the accelerate hook while mmcache attaches or detaches keeps the order offload(mmcache(forward)).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def beneath_accelerate_hook(module: torch.nn.Module) -> Iterator[None]:
    """Lift ``module``'s accelerate hook for the duration of the block, then put it back on top."""
    accelerate_hook = getattr(module, "_hf_hook", None)
    if accelerate_hook is None:
        yield
        return
    from accelerate.hooks import add_hook_to_module, remove_hook_from_module

    remove_hook_from_module(module)
    try:
        yield
    finally:
        add_hook_to_module(module, accelerate_hook)
