"""One generation, with or without cache methods, measured the same way (used by CLI, eval, demo)."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import time
from typing import Any, Callable, ContextManager, Sequence

import numpy as np
import torch

import mmcache
from mmcache.methods.base import MethodConfig
from mmcache.stats import CacheStats
from mmcache.video import to_uint8_frames


@dataclasses.dataclass
class GenerationRequest:
    """What to generate. ``None`` fields fall back to the model's defaults, then to the pipeline's."""

    prompt: str
    negative_prompt: str | None = None
    num_inference_steps: int | None = None
    seed: int = 0
    height: int | None = None
    width: int | None = None
    num_frames: int | None = None
    guidance_scale: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def with_defaults(self, defaults: dict[str, Any]) -> "GenerationRequest":
        """A copy whose unset fields take values from ``defaults`` (e.g. ``mmcache_defaults.json``).

        Stored settings that are not fields (``max_sequence_length``, a nested ``extra`` such as
        diffusion forcing's ``ar_step``) go to ``extra``, under the request's own extras.
        """
        filled = dataclasses.replace(self, extra={**stored_extras(defaults), **self.extra})
        for name in REQUEST_FIELDS:
            if getattr(filled, name) is None and name in defaults:
                setattr(filled, name, defaults[name])
        return filled


REQUEST_FIELDS = tuple(field.name for field in dataclasses.fields(GenerationRequest) if field.name != "extra")


def stored_extras(defaults: dict[str, Any]) -> dict[str, Any]:
    """The pipeline arguments among a model's stored settings that are not ``GenerationRequest`` fields."""
    flat = {key: value for key, value in defaults.items() if key not in REQUEST_FIELDS and key != "extra"}
    return {**flat, **defaults.get("extra", {})}


@dataclasses.dataclass
class GenerationResult:
    """Frames (uint8 ``[T, H, W, 3]``), wall time, what the denoiser did, peak accelerator memory."""

    frames: np.ndarray
    wall_seconds: float
    stats: CacheStats
    peak_memory_bytes: int | None
    denoiser_macs: int | None = None


def call_arguments(pipe: Any, request: GenerationRequest) -> dict[str, Any]:
    """Keyword arguments for ``pipe(...)``: the request's set fields that the pipeline accepts."""
    accepted = inspect.signature(type(pipe).__call__).parameters
    candidates = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "num_inference_steps": request.num_inference_steps,
        "height": request.height,
        "width": request.width,
        "num_frames": request.num_frames,
        "guidance_scale": request.guidance_scale,
        "output_type": "np",
        **request.extra,
    }
    unknown = sorted(key for key in request.extra if key not in accepted)
    if unknown:
        raise ValueError(f"{type(pipe).__name__} does not accept {unknown}.")
    kwargs = {key: value for key, value in candidates.items() if value is not None and key in accepted}
    missing = missing_inputs(pipe, kwargs)
    if missing:
        raise ValueError(f"{type(pipe).__name__} needs {', '.join(missing)}, which mmcache does not provide for "
                         "this model; use a text-to-video or text-to-image model.")
    return kwargs


def missing_inputs(pipe: Any, kwargs: dict[str, Any]) -> list[str]:
    """Required arguments of ``pipe(...)`` that ``kwargs`` lacks (e.g. the ``image`` of image-to-video)."""
    parameters = list(inspect.signature(type(pipe).__call__).parameters.values())[1:]
    return [p.name for p in parameters if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in kwargs]



def calibration_arguments(pipe: Any, request: GenerationRequest) -> dict[str, Any]:
    """``call_arguments`` without prompt and output type: the settings ``mmcache.calibrate`` takes per run."""
    kwargs = call_arguments(pipe, request)
    for key in ("prompt", "output_type"):
        kwargs.pop(key, None)
    return kwargs

def extract_frames(output: Any) -> np.ndarray:
    """The first video (or image, as one frame) of a pipeline output, as uint8 ``[T, H, W, 3]``."""
    if hasattr(output, "frames"):
        video = output.frames[0]
    elif hasattr(output, "images"):
        video = output.images[0]
    else:
        raise TypeError(f"Cannot find frames or images in {type(output).__name__}.")
    if isinstance(video, torch.Tensor):
        video = video.detach().float().cpu().numpy()
    video = np.asarray(video)
    if video.ndim == 4 and video.shape[1] in (1, 3) and video.shape[-1] not in (1, 3):
        video = video.transpose(0, 2, 3, 1)
    return to_uint8_frames(video)


def _execution_device(pipe: Any) -> torch.device:
    device = getattr(pipe, "_execution_device", None)
    return torch.device(device) if device is not None else torch.device("cpu")


def run_generation(pipe: Any, request: GenerationRequest, configs: Sequence[MethodConfig] = (),
                   on_step: Callable[[int, int], None] | None = None,
                   accelerator: Callable[[Any], ContextManager[Any]] | None = None,
                   measure_compute: bool = False) -> GenerationResult:
    """Generate once with ``configs`` enabled (none: the uncached baseline, observed only).

    The denoiser is observed through mmcache in every case, so calls and denoiser time are measured
    identically for baseline, mmcache and peer runs. ``accelerator(pipe)`` is an optional context
    manager applied inside that observation (how peers such as diffusers' own caches are run);
    ``on_step(step, total)`` reports progress. ``measure_compute`` counts the denoisers' linear-layer
    MACs (``mmcache.pipelines.compute``), which slows every computed call a little.
    """
    kwargs = call_arguments(pipe, request)
    accepted = inspect.signature(type(pipe).__call__).parameters
    if on_step is not None and "callback_on_step_end" in accepted:
        total = int(kwargs.get("num_inference_steps") or 0)

        def report(_pipe: Any, step: int, _timestep: Any, callback_kwargs: dict) -> dict:
            on_step(step + 1, total)
            return callback_kwargs

        kwargs["callback_on_step_end"] = report
    device = _execution_device(pipe)
    generator = torch.Generator(device="cpu").manual_seed(int(request.seed))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    peer = accelerator(pipe) if accelerator is not None else contextlib.nullcontext()
    with mmcache.enabled(pipe, *configs) as handle, peer, _compute_counter(handle, measure_compute) as counter:
        start = time.perf_counter()
        output = pipe(**kwargs, generator=generator)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return GenerationResult(extract_frames(output), wall, handle.history[-1] if handle.history else handle.stats(),
                            peak, counter.macs if counter is not None else None)


def _compute_counter(handle: Any, enabled: bool) -> ContextManager[Any]:
    if not enabled:
        return contextlib.nullcontext()
    from .compute import count_linear_macs

    return count_linear_macs(handle.controller.target.denoisers)
