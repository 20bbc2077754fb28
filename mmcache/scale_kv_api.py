"""``mmcache.enable`` for next-scale-prediction (VAR) models: a scale-KV method on every block's KV cache.

``api.enable`` routes here when the target is a registered VAR pipeline or transformer. The pipeline's
own calls then sample with one ``GroupedScaleCache`` per block (the method's head groups and budgets);
with no method, every block keeps everything and the handle only counts (the plain cache's numbers).
``disable`` restores the pipeline's own cache.
"""

from __future__ import annotations

from typing import Any, Callable

from .errors import AlreadyEnabledError, ConfigError
from .families.registry import ResolvedVAR, resolve_var
from .handle import HANDLE_ATTRIBUTE, existing_handle
from .kv.scale_cache import GroupedScaleCache, KeptTokens
from .kv.scale_stats import ScaleKVRecorder, ScaleKVStats
from .methods.base import MethodConfig
from .methods.scale_budget import keep_everything


class ScaleKVHandle:
    """Live view of a scale-KV method on one VAR model.

    ``stats()``: the sampling run in progress, or else the last finished one (``ScaleKVStats``: keys read
    and tokens kept per block and scale, peak and held KV bytes, attention FLOPs, and the same for the
    plain cache); ``history``: every finished run; ``head_groups``: per block, the head groups in use.

    ``record_kept`` (off by default; set it before sampling, it applies from the next run): every block also
    records which tokens each head group keeps after each scale, for the first batch row (a small int tensor per
    block, scale and group, copied to the CPU); ``kept_tokens()`` returns them.
    """

    def __init__(self, target: Any, configs: tuple[MethodConfig, ...], resolved: ResolvedVAR,
                 recorder: ScaleKVRecorder, head_groups: list, restore: Callable[[], None]) -> None:
        self.target, self.configs, self.resolved = target, configs, resolved
        self.recorder, self.head_groups, self._restore = recorder, head_groups, restore
        self.active = True

    @property
    def family(self) -> str:
        return self.resolved.adapter.name

    @property
    def record_kept(self) -> bool:
        return self.recorder.record_kept

    @record_kept.setter
    def record_kept(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise TypeError(f"record_kept must be True or False, got {on!r}.")
        self.recorder.record_kept = on

    def kept_tokens(self) -> dict[int, dict[int, tuple[KeptTokens, ...]]]:
        """Layer → scale → per head group (``head_groups`` order), the tokens kept after that scale by the run of
        ``stats()``, for its first batch row; empty when the run was not recorded (``record_kept`` off)."""
        return self.stats().kept_tokens()

    @property
    def history(self) -> list[ScaleKVStats]:
        return list(self.recorder.history)

    def stats(self) -> ScaleKVStats:
        current = self.recorder.current()
        if current is not None:
            return current
        if self.recorder.history:
            return self.recorder.history[-1]
        return ScaleKVStats(self.recorder.method, (), self.recorder.layout)

    def disable(self) -> None:
        """Restore the pipeline's own KV cache."""
        if not self.active:
            return
        self.recorder.end_run()
        self._restore()
        self.active = False
        for obj in (self.target, self.resolved.transformer):
            if getattr(obj, HANDLE_ATTRIBUTE, None) is self:
                delattr(obj, HANDLE_ATTRIBUTE)

    def __repr__(self) -> str:
        methods = ", ".join(config.method for config in self.configs) or "observe"
        return f"ScaleKVHandle({methods} on {self.family}, {'active' if self.active else 'disabled'})"


def enable_scale_kv(target: Any, configs: tuple[MethodConfig, ...]) -> ScaleKVHandle:
    """Attach at most one scale-KV method (or none: observe) to a VAR pipeline or transformer."""
    others = [config.method for config in configs if config.role != "scale_kv"]
    if others:
        raise ConfigError(f"A next-scale-prediction (VAR) model takes scale-KV methods (HACKConfig, ScaleTopKConfig, "
                          f"RecentScalesConfig, ScaleKVConfig); {others} do not apply to it.")
    if len(configs) > 1:
        raise ConfigError(f"Enable at most one scale-KV method at a time, got {[config.method for config in configs]}.")
    resolved = resolve_var(target)
    if existing_handle(target) is not None or existing_handle(resolved.transformer) is not None:
        raise AlreadyEnabledError(f"mmcache is already enabled on this {type(target).__name__}; call "
                                  "mmcache.disable(...) first (or use the handle returned by the first mmcache.enable).")
    adapter, transformer = resolved.adapter, resolved.transformer
    layout = adapter.layout(transformer)
    layers = len(adapter.blocks(transformer))
    if configs:
        groups = configs[0].head_groups(resolved)
    else:
        groups = [keep_everything(adapter.num_heads(transformer), layout) for _ in range(layers)]
    recorder = ScaleKVRecorder(configs[0].method if configs else "plain", layout)
    restore = adapter.install(transformer, lambda layer: GroupedScaleCache(layer, layout, groups[layer],
                                                                           recorder.record, recorder.record_kept))
    handle = ScaleKVHandle(target, configs, resolved, recorder, groups, restore)
    for obj in (target, transformer):
        setattr(obj, HANDLE_ATTRIBUTE, handle)
    return handle
