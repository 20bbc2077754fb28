"""``enable`` / ``disable`` / ``enabled``: attach cache methods to a pipeline or its denoiser."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from .errors import AlreadyEnabledError, ConfigError, NotEnabledError
from .families.registry import is_var_target, is_vlm_target, resolve_target
from .handle import HANDLE_ATTRIBUTE, CacheHandle, existing_handle
from .hooks import call as call_hook
from .methods.base import MethodConfig, StepPolicy
from .runtime.call_boundary import CallBoundary, needs_call_boundary
from .runtime.controller import CacheController
from .runtime.offload import beneath_accelerate_hook
from .runtime.tracker import RunTracker
from .runtime.windows import WindowProbe


def _check_configs(configs: tuple[Any, ...]) -> None:
    for config in configs:
        if not isinstance(config, MethodConfig):
            raise ConfigError(
                f"mmcache.enable takes method configs such as EasyCacheConfig(...), got {type(config).__name__}."
            )
    kv = [config.method for config in configs if config.role == "kv"]
    if kv:
        raise ConfigError(f"{kv} compress the KV cache of a vision-language model (LLaVA, LLaVA-OneVision, Qwen2-VL, "
                          "Qwen2.5-VL); enable them on such a model, not on a diffusers pipeline.")
    scale_kv = [config.method for config in configs if config.role == "scale_kv"]
    if scale_kv:
        raise ConfigError(f"{scale_kv} compress the KV cache of a next-scale-prediction (VAR) model; enable them on "
                          "a VARPipeline (e.g. toy-var) or its transformer.")
    names = [config.method for config in configs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"Each method can be enabled once; got {repeated} more than once.")
    steps = [config.method for config in configs if config.role == "step"]
    if len(steps) > 1:
        raise ConfigError(
            f"Only one step-skipping method can run at a time, got {steps}; attention methods (e.g. "
            "SparseAttentionConfig) compose with one of them."
        )


def enable(target: Any, *configs: MethodConfig, num_inference_steps: int | None = None) -> Any:
    """Attach the given methods to a diffusers pipeline or its denoiser and return a ``CacheHandle``; or one KV
    method to a vision-language model and return a ``KVCacheHandle``.

    Args:
        target: a diffusers pipeline (preferred: mmcache then reads the step count from its
            scheduler) or its denoiser module (``pipe.transformer``); or a transformers
            vision-language model (``LlavaForConditionalGeneration``, ``Qwen2VLForConditionalGeneration``,
            ...) or any object holding one as ``.model``.
        configs: method configs, e.g. ``EasyCacheConfig(threshold=0.1)``; at most one step method,
            plus attention methods. With no config mmcache only observes (counts and times calls).
            A vision-language model takes exactly one KV method (``ZipVLConfig``, ``PrefixKVConfig``,
            ``StreamingLLMConfig``, ``SnapKVConfig``, ``PyramidKVConfig``); a next-scale-prediction
            (VAR) pipeline at most one scale-KV method (``HACKConfig``, ``ScaleTopKConfig``,
            ``RecentScalesConfig``, ``ScaleKVConfig``) and returns a ``ScaleKVHandle``.
        num_inference_steps: the number of denoising steps, needed only when ``target`` is a bare
            denoiser driven outside a diffusers pipeline that does not say it.
    """
    for config in configs:
        if not isinstance(config, MethodConfig):
            _check_configs(configs)
    if is_vlm_target(target):
        from .kv_api import enable_kv

        return enable_kv(target, configs)
    if is_var_target(target):
        from .scale_kv_api import enable_scale_kv

        return enable_scale_kv(target, configs)
    _check_configs(configs)
    step_config = next((config for config in configs if config.role == "step"), None)
    factory = step_config.policy if step_config is not None else None
    return enable_policy(target, factory, configs, num_inference_steps)


def enable_policy(target: Any, policy_factory: Callable[[RunTracker], StepPolicy] | None,
                  configs: tuple[MethodConfig, ...] = (), num_inference_steps: int | None = None) -> CacheHandle:
    """``enable`` with an explicit step-policy factory (``policy_factory(tracker) -> StepPolicy``).

    Used by mmcache itself for policies that have no public config, such as the trajectory
    recorder of calibration runs.
    """
    if num_inference_steps is not None and (not isinstance(num_inference_steps, int)
                                            or isinstance(num_inference_steps, bool) or num_inference_steps < 1):
        raise ConfigError(f"num_inference_steps must be a whole number >= 1, got {num_inference_steps!r}.")
    resolved = resolve_target(target)
    if existing_handle(target) is not None or any(call_hook.is_attached(module) for module in resolved.denoisers):
        raise AlreadyEnabledError(
            f"mmcache is already enabled on this {type(target).__name__}; call mmcache.disable(...) first "
            "(or use the handle returned by the first mmcache.enable)."
        )
    tracker = RunTracker(resolved.adapter, resolved.pipeline, num_inference_steps)
    policy = policy_factory(tracker) if policy_factory is not None else None
    controller = CacheController(resolved, policy, tracker)
    attachments = []
    try:
        if policy is not None:
            policy.attach(resolved)
        for config in configs:
            if config.role == "attention":
                attachments.append(config.attach(resolved, controller))
        for index, module in enumerate(resolved.denoisers):
            with beneath_accelerate_hook(module):
                call_hook.attach(module, call_hook.DenoiserHook(controller, index))
        if needs_call_boundary(resolved.pipeline, resolved.denoisers):
            attachments.append(CallBoundary(resolved.pipeline, controller.end_run))
        planner = resolved.adapter.window_planner
        if planner is not None and resolved.pipeline is not None:
            controller.window_probe = WindowProbe(resolved.pipeline, planner, controller.begin_window)
            attachments.append(controller.window_probe)
    except Exception:
        for attachment in attachments:
            attachment.detach()
        if policy is not None:
            policy.detach()
        for module in resolved.denoisers:
            with beneath_accelerate_hook(module):
                call_hook.detach(module)
        raise
    handle = CacheHandle(target, configs, controller, attachments)
    for module in (target, *resolved.denoisers):
        setattr(module, HANDLE_ATTRIBUTE, handle)
    return handle


def disable(target: Any) -> None:
    """Remove everything mmcache attached to ``target``; its outputs are the original ones again."""
    handle = existing_handle(target)
    if handle is None:
        raise NotEnabledError(f"mmcache is not enabled on this {type(target).__name__}; nothing to disable.")
    handle.disable()


@contextlib.contextmanager
def enabled(target: Any, *configs: MethodConfig, num_inference_steps: int | None = None) -> Iterator[Any]:
    """Context-manager form of ``enable``: the methods are removed when the block exits."""
    handle = enable(target, *configs, num_inference_steps=num_inference_steps)
    try:
        yield handle
    finally:
        if handle.active:
            handle.disable()
