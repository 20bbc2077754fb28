"""The diffusers ``ModelHook`` that routes every denoiser forward through an mmcache session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from diffusers.hooks import HookRegistry, ModelHook
from diffusers.hooks.hooks import BaseState, StateManager

if TYPE_CHECKING:
    from .session import CacheSession

HOOK_NAME = "mmcache_denoiser"


class _ContextOnly(BaseState):
    """Placeholder state: the hook keeps a ``StateManager`` only to receive ``cache_context``s."""

    def reset(self, *args: Any, **kwargs: Any) -> None:
        return None


class DenoiserHook(ModelHook):
    """Wraps a denoiser's forward; the session decides whether the original forward runs."""

    _is_stateful = True

    def __init__(self, session: "CacheSession", denoiser_index: int) -> None:
        super().__init__()
        self.session = session
        self.denoiser_index = denoiser_index
        self.state_manager = StateManager(_ContextOnly)

    @torch._dynamo.disable(recursive=False)
    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        # The bookkeeping runs eagerly (its methods are excluded from torch.compile); the original
        # forward is called from this frame, so a compiled denoiser stays compiled.
        plan = self.session.before_forward(self, module, self.state_manager._context, args, kwargs)
        if plan.reused_output is not None:
            return plan.reused_output
        output = self.fn_ref.original_forward(*plan.args, **plan.kwargs)
        return self.session.after_forward(plan, output)

    def reset_state(self, module: torch.nn.Module) -> torch.nn.Module:
        """Called by diffusers at the end of every pipeline call (``maybe_free_model_hooks``)."""
        self.session.end_run()
        return module


def attach(module: torch.nn.Module, hook: DenoiserHook) -> None:
    HookRegistry.check_if_exists_or_initialize(module).register_hook(hook, HOOK_NAME)


def detach(module: torch.nn.Module) -> None:
    registry = getattr(module, "_diffusers_hook", None)
    if registry is not None and registry.get_hook(HOOK_NAME) is not None:
        registry.remove_hook(HOOK_NAME, recurse=False)


def is_attached(module: torch.nn.Module) -> bool:
    registry = getattr(module, "_diffusers_hook", None)
    return registry is not None and registry.get_hook(HOOK_NAME) is not None
