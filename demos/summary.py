"""The numbers of one comparison (a JSON-ready dict) and their human-readable summary (Markdown)."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from mmcache.methods.base import MethodConfig
from mmcache.pipelines.generation import GenerationRequest, GenerationResult
from mmcache.quality import psnr, ssim
from mmcache.stats import CacheStats


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def config_dict(config: MethodConfig) -> dict[str, Any]:
    """The config's fields, JSON-ready (values that are not plain data as text)."""
    data = config.to_dict()
    return {key: value if isinstance(value, (str, int, float, bool, type(None), list, tuple)) else str(value)
            for key, value in data.items()}


def _run_counts(stats: CacheStats, wall_seconds: float) -> dict[str, Any]:
    return {
        "wall_seconds": wall_seconds,
        "calls": stats.calls,
        "computed": stats.computed,
        "skipped": stats.skipped,
        "denoiser_seconds": stats.denoiser_seconds,
        "branches": {name: dataclasses.asdict(counts) for name, counts in stats.branches.items()},
        "compute_saved": stats.compute_saved,
        "chunks": stats.chunk_counts if stats.chunk_timeline else None,
    }


def comparison_metrics(model: str, request: GenerationRequest, config: MethodConfig, baseline: GenerationResult,
                       accelerated: GenerationResult, baseline_from_cache: bool) -> dict[str, Any]:
    """Everything the demo reports about one comparison, JSON-serialisable.

    ``speedup.denoiser_calls`` is baseline calls over accelerated computed calls; ``speedup.wall``
    compares end-to-end pipeline time; PSNR/SSIM are computed on native (not upscaled) frames.
    """
    stats = accelerated.stats
    return {
        "model": model,
        "method": config.method,
        "config": config_dict(config),
        "request": {
            "prompt": request.prompt, "negative_prompt": request.negative_prompt, "seed": request.seed,
            "steps": request.num_inference_steps, "height": request.height, "width": request.width,
            "frames": request.num_frames, "guidance_scale": request.guidance_scale,
        },
        "video_shape": list(accelerated.frames.shape),
        "baseline": {**_run_counts(baseline.stats, baseline.wall_seconds), "from_cache": baseline_from_cache},
        "accelerated": _run_counts(stats, accelerated.wall_seconds),
        "speedup": {
            "wall": _ratio(baseline.wall_seconds, accelerated.wall_seconds),
            "denoiser_calls": _ratio(baseline.stats.calls, stats.computed),
            "denoiser_time": _ratio(baseline.stats.denoiser_seconds or 0.0, stats.denoiser_seconds or 0.0),
        },
        "psnr_db": _finite(psnr(accelerated.frames, baseline.frames)),
        "ssim": _finite(ssim(accelerated.frames, baseline.frames)),
        "timeline": [dataclasses.asdict(record) for record in stats.timeline],
    }


def _times(value: float | None) -> str:
    return f"{value:.2f}×" if value is not None else "n/a"


def _score(value: float | None, digits: int, unit: str = "") -> str:
    return f"{value:.{digits}f}{unit}" if value is not None else "n/a"


def _method_text(config: dict[str, Any]) -> str:
    """``easycache: threshold=0.1, warmup_steps=5``, with file paths shortened to their names."""
    knobs = ", ".join(f"{key}={os.path.basename(value) if isinstance(value, str) and os.sep in value else value}"
                      for key, value in config.items() if key != "method")
    return f"{config['method']}: {knobs}" if knobs else config["method"]


def comparison_markdown(metrics: dict[str, Any]) -> str:
    """A short Markdown report of ``comparison_metrics`` output."""
    base, fast, speedup = metrics["baseline"], metrics["accelerated"], metrics["speedup"]
    origin = ("reused from the baseline cache (same model, prompt, seed, steps and size)" if base["from_cache"]
              else "generated for this request")
    chunks = fast.get("chunks")
    work = (f"{fast['compute_saved']:.1%} of the block-stack work saved" if chunks else
            f"{_times(speedup['denoiser_calls'])} denoiser calls ({base['calls']} → {fast['computed']} computed)")
    lines = [
        f"**Method:** `{_method_text(metrics['config'])}`",
        "",
        f"**Speedup:** {_times(speedup['wall'])} wall clock ({base['wall_seconds']:.2f} s → "
        f"{fast['wall_seconds']:.2f} s) · {work}",
        "",
        f"**Fidelity vs baseline:** PSNR {_score(metrics['psnr_db'], 2, ' dB')} · SSIM {_score(metrics['ssim'], 4)}",
        "",
    ]
    if chunks:  # decided per chunk: every call runs, over the chunks it needs
        lines += ["| chunk state | forwards |", "|---|---|", *(f"| {state} | {count} |" for state, count in chunks.items())]
    else:
        lines += ["| branch | computed | reused | calls |", "|---|---|---|---|",
                  *(f"| {name} | {counts['computed']} | {counts['skipped']} | {counts['calls']} |"
                    for name, counts in fast["branches"].items()),
                  f"| **all** | **{fast['computed']}** | **{fast['skipped']}** | **{fast['calls']}** |"]
    lines += ["", f"Baseline: {origin}."]
    return "\n".join(lines)
