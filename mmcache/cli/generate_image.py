"""``mmcache generate`` on a next-scale-prediction (VAR) model: images, optionally side by side with the plain cache.

--compare samples the same seed with the pipeline's own KV cache and with the method (HACK, or a baseline),
each --timing-runs times alternating (fastest run counts), writes OUT (the method's images), OUT_baseline.png and
OUT_compare.png, and prints the wall-clock ratio, the KV bytes (peak, and held between scales) and attention
FLOPs over the plain cache's, and PSNR / SSIM against the plain images.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_write_json
from ..pipelines.var.measure import ImageRun, call_settings, sample_images
from ..validation.checks import InputError

VIDEO_ONLY_FLAGS = {"steps": "--steps", "height": "--height", "width": "--width", "frames": "--frames",
                    "negative_prompt": "--negative-prompt", "upscale": "--upscale"}


def check_image_flags(args: argparse.Namespace) -> None:
    """Video-only flags are refused for an image model (nothing is silently ignored)."""
    given = [flag for field, flag in VIDEO_ONLY_FLAGS.items() if getattr(args, field, None) is not None]
    if given:
        verb = "apply" if len(given) > 1 else "applies"
        raise InputError(f"{', '.join(given)} {verb} to video models; {args.model} makes images (leave it out).")
    if Path(args.out).suffix.lower() != ".png":
        raise InputError(f"--out {args.out}: an image model writes a .png; pass e.g. --out outputs/image.png.")


def sample(pipe: Any, args: argparse.Namespace, configs: list, call: dict[str, Any]) -> ImageRun:
    return sample_images(pipe, args.prompt, args.num_images, args.seed, configs, call)


def _save(images: np.ndarray, path: Path, factor: int) -> Path:
    from PIL import Image

    row = np.concatenate(list(images), axis=1).repeat(factor, axis=0).repeat(factor, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.png")
    Image.fromarray(row).save(partial)
    partial.replace(path)
    return path


def run_image(args: argparse.Namespace, model: str, configs: list) -> int:
    from mmcache.pipelines.loader import load
    from mmcache.quality import psnr, ssim

    from ..side_timing import outlier_notes, time_sides

    check_image_flags(args)
    if args.compare and not configs:
        raise InputError("--compare compares a KV method with the plain cache; choose one with --method (e.g. hack).")
    pipe = load(model, device=args.device, dtype=args.dtype)
    pipe.set_progress_bar_config(disable=args.quiet)
    call = call_settings(model)
    if args.guidance_scale is not None:
        call["guidance_scale"] = args.guidance_scale
    method = configs[0].method if configs else "none"
    print(f"model {model} | method {method} | images {args.num_images} | seed {args.seed}")
    out = Path(args.out)
    factor = max(1, 256 // pipe.tokenizer.image_size) if hasattr(pipe.tokenizer, "image_size") else 1
    report: dict[str, Any] = {"model": model, "prompt": args.prompt, "seed": args.seed, "call": call,
                              "configs": [config.to_dict() for config in configs]}
    if not args.compare:
        result = sample(pipe, args, configs, call)
        _save(result.images, out, factor)
        print(f"wrote {out} ({len(result.images)} images, {result.wall_seconds:.2f} s)")
        if result.kv_stats is not None:
            report["kv"] = result.kv_stats.to_dict()
    else:
        if not args.no_warmup_run:
            sample(pipe, args, [], call)
            sample(pipe, args, configs, call)
        base_side, method_side = time_sides(lambda: sample(pipe, args, [], call),
                                            lambda: sample(pipe, args, configs, call),
                                            args.timing_runs or 2)
        base, result = base_side.first, method_side.first
        _save(result.images, out, factor)
        base_path, compare_path = out.with_name(out.stem + "_baseline.png"), out.with_name(out.stem + "_compare.png")
        _save(base.images, base_path, factor)
        _save(np.concatenate((base.images, result.images), axis=1), compare_path, factor)
        ratios = result.kv_stats.ratios()
        comparison = {"wall_speedup": base_side.wall_seconds / method_side.wall_seconds,
                      "baseline_wall_seconds": base_side.wall_seconds, "cached_wall_seconds": method_side.wall_seconds,
                      "psnr_db": psnr(result.images, base.images), "ssim": ssim(result.images, base.images),
                      **{f"{name}_ratio": value for name, value in ratios.items()}}
        report.update(comparison=comparison, kv=result.kv_stats.to_dict())
        print(f"wrote {out}, {base_path} and {compare_path} (top: plain cache, bottom: {method})")
        for note in outlier_notes({"baseline": base_side, "cached": method_side}):
            print(note)
        print(f"speedup: wall {comparison['wall_speedup']:.2f}x ({base_side.wall_seconds:.2f} s -> "
              f"{method_side.wall_seconds:.2f} s); KV peak {ratios['kv_bytes_peak']:.2f}x, held between scales "
              f"{ratios['kv_bytes_held']:.2f}x, attention FLOPs {ratios['attention_flops']:.2f}x of the plain cache")
        print(f"fidelity vs plain cache: PSNR {comparison['psnr_db']:.2f} dB, SSIM {comparison['ssim']:.4f}")
    if args.stats_json:
        atomic_write_json(args.stats_json, report)
        print(f"wrote {args.stats_json}")
    return 0
