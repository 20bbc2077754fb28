"""``CacheHandle``: what ``mmcache.enable`` returns — stats, history, and the way back (``disable``)."""

from __future__ import annotations

from typing import Any, Sequence

from .families.registry import unwrap_compiled
from .hooks import call as call_hook
from .methods.base import Attachment, MethodConfig
from .runtime.controller import CacheController
from .runtime.offload import beneath_accelerate_hook
from .stats import CacheStats

HANDLE_ATTRIBUTE = "_mmcache_handle"


class CacheHandle:
    """Live view of mmcache on one pipeline or denoiser.

    ``stats()`` summarises the pipeline call in progress, or else the last finished one;
    ``history`` holds every finished call; ``disable()`` restores the original behaviour.
    """

    def __init__(self, target: Any, configs: Sequence[MethodConfig], controller: CacheController,
                 attachments: list[Attachment]) -> None:
        self.target = target
        self.configs = tuple(configs)
        self.controller = controller
        self.attachments = attachments
        self.active = True

    @property
    def family(self) -> str:
        return self.controller.adapter.name

    @property
    def history(self) -> list[CacheStats]:
        """Stats of every finished pipeline call, oldest first."""
        return list(self.controller.history)

    def stats(self) -> CacheStats:
        """Stats of the current pipeline call, or of the last finished one (empty before any call)."""
        current = self.controller.current_stats()
        if current is not None:
            return current
        if self.controller.history:
            return self.controller.history[-1]
        return CacheStats(
            method=self.controller.method, run=-1, num_steps=None, calls=0, computed=0, skipped=0, branches={},
            timeline=(), forwards=0, computed_forwards=0, denoiser_seconds=None, computed_forward_seconds=None,
            reused_forward_seconds=None,
        )

    def attention_stats(self) -> list[dict[str, Any]]:
        """How the attention methods ran: sparse calls, their mean density, dense calls by reason."""
        return [attachment.stats() for attachment in self.attachments if hasattr(attachment, "stats")]

    def disable(self) -> None:
        """Remove every hook and restore the original behaviour (same as ``mmcache.disable(target)``)."""
        if not self.active:
            return
        self.controller.end_run()  # freeze the last run's stats while everything is still attached
        denoisers = self.controller.target.denoisers
        for module in denoisers:
            with beneath_accelerate_hook(module):
                call_hook.detach(module)
        for attachment in reversed(self.attachments):
            attachment.detach()
        if self.controller.policy is not None:
            self.controller.policy.detach()
        self.active = False
        for module in (self.target, *denoisers, unwrap_compiled(self.target)):
            if getattr(module, HANDLE_ATTRIBUTE, None) is self:
                delattr(module, HANDLE_ATTRIBUTE)

    def __repr__(self) -> str:
        methods = ", ".join(config.method for config in self.configs) or "observe only"
        state = "active" if self.active else "disabled"
        return f"CacheHandle({methods} on {self.family}, {state})"


def existing_handle(target: Any) -> CacheHandle | None:
    """The active handle mmcache left on ``target`` (or on the module inside a compiled wrapper)."""
    handle = getattr(target, HANDLE_ATTRIBUTE, None)
    if handle is None and hasattr(target, "_orig_mod"):
        handle = getattr(target._orig_mod, HANDLE_ATTRIBUTE, None)
    return handle if handle is not None and handle.active else None
