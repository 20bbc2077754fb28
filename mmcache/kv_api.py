"""``mmcache.enable`` for vision-language models: a KV method on the language model, and its handle.

``api.enable`` routes here when the target is a transformers VLM of a registered family (or an
object holding one as ``.model``, e.g. a pipeline with ``.model`` and ``.processor``). The user's own
``model.generate(**inputs)`` and forwards then run with the method; ``disable`` restores the model.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .errors import AlreadyEnabledError, ConfigError
from .families.registry import ResolvedVLM, resolve_vlm
from .handle import HANDLE_ATTRIBUTE, existing_handle
from .hooks.kv_attention import LanguageModelAttachment
from .kv.kept_positions import KeptPositions
from .kv.policy import KVPolicy
from .kv.stats import KVRecorder, KVStats
from .methods.base import MethodConfig


class KVCacheHandle:
    """Live view of a KV method on one vision-language model.

    ``stats()`` summarises the generation in progress, or else the last finished one (``KVStats``:
    per layer kept tokens, KV bytes before and after, prefill attention FLOPs dense and computed);
    ``kept_prompt_positions()`` says which prompt tokens each layer kept;
    ``history`` holds every finished generation; ``disable()`` restores the original model.
    """

    def __init__(self, target: Any, configs: Sequence[MethodConfig], resolved: ResolvedVLM,
                 attachment: LanguageModelAttachment, recorder: KVRecorder) -> None:
        self.target = target
        self.configs = tuple(configs)
        self.resolved = resolved
        self.attachment = attachment
        self.recorder = recorder
        self.active = True

    @property
    def family(self) -> str:
        return self.resolved.adapter.name

    @property
    def history(self) -> list[KVStats]:
        """Stats of every finished generation (a new prompt finishes the previous one), oldest first."""
        return list(self.recorder.history)

    def stats(self) -> KVStats:
        """Stats of the current generation, or of the last finished one (empty before any)."""
        current = self.recorder.current()
        if current is not None:
            return current
        if self.recorder.history:
            return self.recorder.history[-1]
        return KVStats(self.recorder.method, -1, (), 0)

    def kept_prompt_positions(self) -> list[KeptPositions]:
        """Per layer, which prompt positions its cache kept after the prefill (``KeptPositions.mask()``: ``[B, heads,
        prompt tokens]`` bool), for the same generation as ``stats()``; ``mmcache.kv.kept_positions.kept_share`` gives
        the share of layers (and heads) that kept each position. Empty before any prompt."""
        return self.recorder.kept_positions()

    def disable(self) -> None:
        """Remove the method; the model's outputs are the original ones again."""
        if not self.active:
            return
        self.recorder.end_run()
        self.attachment.detach()
        self.active = False
        for obj in (self.target, self.resolved.model):
            if getattr(obj, HANDLE_ATTRIBUTE, None) is self:
                delattr(obj, HANDLE_ATTRIBUTE)

    def __repr__(self) -> str:
        methods = ", ".join(config.method for config in self.configs)
        return f"KVCacheHandle({methods} on {self.family}, {'active' if self.active else 'disabled'})"


def _one_kv_method(configs: tuple[MethodConfig, ...]) -> MethodConfig:
    others = [config.method for config in configs if config.role != "kv"]
    if others:
        raise ConfigError(f"A vision-language model takes KV methods (ZipVLConfig, PrefixKVConfig, SnapKVConfig, ...); "
                          f"{others} work on diffusers pipelines.")
    if len(configs) != 1:
        raise ConfigError(f"Enable exactly one KV method on a vision-language model, got "
                          f"{[config.method for config in configs] or 'none'}.")
    return configs[0]


def enable_kv(target: Any, configs: tuple[MethodConfig, ...]) -> KVCacheHandle:
    """Attach one KV method to a vision-language model (see the module docstring)."""
    config = _one_kv_method(configs)
    return enable_kv_policy(target, config.kv_policy, configs, config.method)


def enable_kv_policy(target: Any, policy_factory: Callable[[ResolvedVLM], KVPolicy],
                     configs: tuple[MethodConfig, ...] = (), method: str = "record") -> KVCacheHandle:
    """``enable_kv`` with an explicit policy (mmcache's own calibration recorders use it)."""
    resolved = resolve_vlm(target)
    if existing_handle(target) is not None or existing_handle(resolved.model) is not None:
        raise AlreadyEnabledError(f"mmcache is already enabled on this {type(target).__name__}; call "
                                  "mmcache.disable(...) first (or use the handle returned by the first mmcache.enable).")
    policy = policy_factory(resolved)
    recorder = KVRecorder(method)
    attachment = LanguageModelAttachment(resolved.language_model, resolved.attention_modules, policy, recorder).attach()
    handle = KVCacheHandle(target, configs, resolved, attachment, recorder)
    for obj in (target, resolved.model):
        setattr(obj, HANDLE_ATTRIBUTE, handle)
    return handle
