"""``CacheHandle``: what ``mmcache.enable`` returns — stats, history and ``disable``."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from ..config.base import MethodConfig
from ..stats import CacheStats
from .session import CacheSession


class Attachment(Protocol):
    """Something a method attached to the model (e.g. attention processors) that can be removed."""

    def detach(self) -> None: ...


class CacheHandle:
    """Live view of mmcache on one pipeline or denoiser.

    ``stats()`` summarises the pipeline call in progress, or else the last finished one;
    ``history`` holds every finished call; ``disable()`` restores the original behaviour.
    """

    def __init__(self, target: Any, configs: Sequence[MethodConfig], session: CacheSession,
                 attachments: list[Attachment]) -> None:
        self.target = target
        self.configs = tuple(configs)
        self.session = session
        self.attachments = attachments
        self.active = True

    @property
    def family(self) -> str:
        return self.session.adapter.name

    @property
    def history(self) -> list[CacheStats]:
        """Stats of every finished pipeline call, oldest first."""
        return list(self.session.history)

    def stats(self) -> CacheStats:
        """Stats of the current pipeline call, or of the last finished one (empty before any call)."""
        current = self.session.current_stats()
        if current is not None:
            return current
        if self.session.history:
            return self.session.history[-1]
        return CacheStats(
            method=self.session.method, run=-1, num_steps=None, calls=0, computed=0, skipped=0, branches={},
            timeline=(), forwards=0, computed_forwards=0, denoiser_seconds=None, computed_forward_seconds=None,
            reused_forward_seconds=None,
        )

    def attention_stats(self) -> list[dict[str, Any]]:
        """How the attention methods ran: sparse calls, their mean density, dense calls by reason."""
        return [attachment.stats() for attachment in self.attachments if hasattr(attachment, "stats")]

    def disable(self) -> None:
        """Remove every hook and restore the original behaviour (same as ``mmcache.disable(target)``)."""
        from .api import disable

        disable(self.target)

    def __repr__(self) -> str:
        methods = ", ".join(config.method for config in self.configs) or "observe only"
        state = "active" if self.active else "disabled"
        return f"CacheHandle({methods} on {self.family}, {state})"
