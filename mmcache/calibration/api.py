"""``mmcache.calibrate``: offline profiling runs that produce a ``Calibration``."""

from __future__ import annotations

import inspect
from typing import Any, Iterable, Mapping, Sequence

import torch

from ..errors import ConfigError
from ..families.registry import resolve_target
from ..methods.ertacache import supports_time_adjustment
from . import ertacache_fit
from .file import Calibration, describe_target
from .hack_file import HACKCalibration
from .hack_fit import calibrate_hack
from .prefixkv_file import PrefixKVCalibration
from .prefixkv_fit import calibrate_prefixkv
from .recording import Trajectory, record_trajectories
from .schema import METHODS


def _generation_kwargs(pipe: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    accepted = inspect.signature(type(pipe).__call__).parameters
    unknown = sorted(key for key in kwargs if key not in accepted)
    if unknown:
        raise ConfigError(f"{type(pipe).__name__} does not accept {unknown}.")
    if "num_inference_steps" not in kwargs:
        raise ConfigError("calibrate needs num_inference_steps=...: a calibration is made for one step count.")
    steps = kwargs["num_inference_steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ConfigError(f"calibrate needs num_inference_steps >= 2 (a whole number), got {steps!r}.")
    if "output_type" in accepted:
        kwargs = {**kwargs, "output_type": "latent"}  # the decoded video is not needed
    return kwargs


def fit_ertacache(trajectories: list[Trajectory], pipe: Any, threshold: float, channel_dim: int,
                  latent_shapes: dict[str, tuple[int, ...]], generation: dict[str, Any],
                  granularity: str = "channel", final_steps: int = 1) -> Calibration:
    """Turn recorded trajectories into an ERTACache calibration for reuse threshold ``threshold``."""
    resolved = resolve_target(pipe)
    errors = ertacache_fit.relative_cache_errors(trajectories)
    schedule = ertacache_fit.greedy_reuse_schedule(errors, threshold, final_steps)
    rectification = ertacache_fit.fit_rectification(trajectories, schedule, channel_dim, granularity)  # type: ignore[arg-type]
    euler = supports_time_adjustment(pipe)
    time_scale = ertacache_fit.fit_time_scale(trajectories, schedule, channel_dim, rectification) if euler else {}
    time_scale_unrectified = ertacache_fit.fit_time_scale(trajectories, schedule, channel_dim, None) if euler else {}
    sources = ertacache_fit.refresh_points(schedule, trajectories[0].num_steps)
    return Calibration(
        method="ertacache",
        target=describe_target(pipe, resolved.denoisers),
        num_steps=trajectories[0].num_steps,
        latent_shapes={key: list(shape) for key, shape in latent_shapes.items()},
        generation={key: value for key, value in generation.items() if isinstance(value, (int, float, str, bool))},
        threshold=float(threshold),
        reuse_steps=schedule,
        time_scale=time_scale,
        time_scale_unrectified=time_scale_unrectified,
        rectification=rectification,
        channel_dim=channel_dim,
        prompts=sorted({t.prompt for t in trajectories}),
        seeds=sorted({t.seed for t in trajectories}),
        first_step_branches=sorted(key for key, seen in trajectories[0].inputs.items() if 0 in seen),
        diagnostics={
            "reused_step_errors": {str(step): float(errors[source, step]) for step, source in sources.items()},
            "next_step_errors": [float(errors[i - 1, i]) for i in range(1, errors.shape[0])],
            "granularity": granularity,
        },
    )


def calibrate(pipe: Any, method: str = "ertacache", prompts: Sequence[str] = (), seeds: Iterable[int] = (0,),
              threshold: float = 0.1, granularity: str = "channel", final_steps: int = 1,
              storage_dtype: torch.dtype = torch.float32, progress: bool = True,
              inputs: Sequence[Mapping[str, Any]] = (), budget: float = 0.5, contextual_fraction: float = 0.5,
              **generation_kwargs: Any) -> Calibration | PrefixKVCalibration | HACKCalibration:
    """Profile full-compute runs of ``pipe`` and fit a calibration for ``method``.

    Args:
        pipe: the diffusers pipeline the calibration is for; for ``"prefixkv"``, the
            vision-language model (or an object holding one as ``.model``).
        method: ``"ertacache"``, ``"prefixkv"`` or ``"hack"`` (``pipe``: a VAR pipeline; every prompt with
            every seed is profiled, ``generation_kwargs`` go to its calls; ``contextual_fraction``: the
            share of heads classified contextual).
        inputs, budget: PrefixKV only: the calibration prompts as model input dicts (a processor's
            output for a prompt with its image or video) and the fraction of the KV cache kept.
        prompts, seeds: the calibration runs (every prompt with every seed).
        threshold: ERTACache's lambda; a step reuses the last computed residual while its mean
            relative L1 error stays below it (larger: more reuse).
        granularity: ``"channel"`` (per latent channel K, B) or ``"scalar"`` error model.
        final_steps: the last steps are always computed.
        storage_dtype: dtype of the trajectories kept on the CPU while fitting.
        generation_kwargs: passed to ``pipe(...)``; must include ``num_inference_steps`` and should
            match how the calibration will be used (resolution, frames, guidance).
    """
    if method not in METHODS:
        raise ConfigError(f"Unknown calibration method {method!r}; calibration exists for {list(METHODS)}.")
    if method == "prefixkv":
        if generation_kwargs or list(prompts):
            raise ConfigError("calibrate(method='prefixkv') takes inputs=[...] (model input dicts) and budget=...; "
                              f"got {sorted(generation_kwargs) or ['prompts']} as well.")
        return calibrate_prefixkv(pipe, inputs, budget, progress)
    if method == "hack":
        return calibrate_hack(pipe, list(prompts), list(seeds), contextual_fraction, progress, **generation_kwargs)
    prompts = list(prompts)
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ConfigError("calibrate needs at least one non-empty prompt.")
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold < float("inf"):
        raise ConfigError(f"threshold must be a finite number > 0, got {threshold!r}.")
    if granularity not in ("channel", "scalar"):
        raise ConfigError(f"granularity must be 'channel' or 'scalar', got {granularity!r}.")
    kwargs = _generation_kwargs(pipe, dict(generation_kwargs))
    resolved = resolve_target(pipe)
    trajectories, recorder = record_trajectories(pipe, prompts, list(seeds), kwargs, storage_dtype, progress)
    return fit_ertacache(trajectories, pipe, threshold, resolved.adapter.channel_dim, recorder.latent_shapes,
                         generation_kwargs, granularity, final_steps)
