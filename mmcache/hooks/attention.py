"""The attention-level hook: a diffusers attention processor runs its own code, its attention call redirected.

A processor computes projections, norms and rotary embeddings, then calls either diffusers'
``dispatch_attention_fn`` ([B, S, H, D] layout) or ``F.scaled_dot_product_attention``
([B, H, S, D]). Instead of rewriting each family's processor, mmcache gives one attention module a
processor of a per-instance subclass whose ``__call__`` is the original function rebound to a copy
of its module globals in which that one name points to a router. Nothing global is patched, the
processor's code runs unchanged, and ``restore`` puts the original processor object back.
"""

from __future__ import annotations

import copy
import types
from typing import Any, Callable, Protocol

import torch

from ..errors import UnsupportedModelError

ORIGINAL_PROCESSOR = "_mmcache_original_processor"


class AttentionRouter(Protocol):
    """Receives the redirected attention calls of one attention module."""

    def dispatch(self, original: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> torch.Tensor: ...

    def sdpa(self, original: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> torch.Tensor: ...


class _FunctionalWithRoutedSDPA:
    """Stands in for ``torch.nn.functional`` with ``scaled_dot_product_attention`` routed."""

    def __init__(self, functional: Any, router: AttentionRouter) -> None:
        self._functional = functional
        original = functional.scaled_dot_product_attention
        self.scaled_dot_product_attention = lambda *args, **kwargs: router.sdpa(original, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._functional, name)


def _rebound_call(processor_class: type, router: AttentionRouter) -> types.FunctionType:
    function = processor_class.__call__
    names = function.__code__.co_names
    namespace = dict(function.__globals__)
    if "dispatch_attention_fn" in names:
        original = namespace["dispatch_attention_fn"]
        namespace["dispatch_attention_fn"] = lambda *args, **kwargs: router.dispatch(original, *args, **kwargs)
    elif "scaled_dot_product_attention" in names and "F" in names:
        namespace["F"] = _FunctionalWithRoutedSDPA(namespace["F"], router)
    else:
        raise UnsupportedModelError(
            f"The attention processor {processor_class.__name__} computes attention neither through diffusers' "
            "dispatch_attention_fn nor F.scaled_dot_product_attention; mmcache cannot redirect it."
        )
    rebound = types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__,
                                 function.__closure__)
    rebound.__kwdefaults__ = function.__kwdefaults__
    rebound.__doc__ = function.__doc__
    return rebound


def redirect(attention_module: torch.nn.Module, router: AttentionRouter) -> None:
    """Give ``attention_module`` a processor whose attention call goes to ``router``."""
    processor = attention_module.processor
    if hasattr(processor, ORIGINAL_PROCESSOR):
        raise RuntimeError("this attention module is already redirected by mmcache")
    cls = type(processor)
    subclass = type(cls.__name__, (cls,), {"__call__": _rebound_call(cls, router), "__module__": cls.__module__})
    routed = copy.copy(processor)
    routed.__class__ = subclass
    setattr(routed, ORIGINAL_PROCESSOR, processor)
    attention_module.processor = routed


def restore(attention_module: torch.nn.Module) -> None:
    """Put the original processor back (no-op if the module is not redirected)."""
    original = getattr(attention_module.processor, ORIGINAL_PROCESSOR, None)
    if original is not None:
        attention_module.processor = original


def self_attention_modules(adapter: Any, denoiser: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
    """(block index, module) for every self/joint attention module named by the family adapter."""
    found = []
    for index, block in enumerate(adapter.blocks(denoiser)):
        for name in adapter.self_attention:
            module = getattr(block, name, None)
            if module is not None and hasattr(module, "processor"):
                found.append((index, module))
    return found
