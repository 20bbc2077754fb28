"""Generate a video with a cache method; with --compare, also the uncached baseline, side by side.

--compare runs the baseline first with the same seed, writes OUT (cached), OUT_baseline.mp4 and
OUT_compare.mp4 (side by side), and prints the speedup (wall clock and denoiser calls) and the
PSNR/SSIM of the cached video against the baseline. Videos are H.264 MP4s that browsers play.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..files import atomic_write_json

from .method_args import add_method_arguments, configs_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="bundled name (toy-t2v), tiny:<family>, a local diffusers folder or a hub id "
                             "(default: toy-t2v, or tiny:wan2.1-t2v when the bundled weights are absent)")
    parser.add_argument("--prompt", default="a red circle moving left on a black background")
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None, help="number of video frames")
    parser.add_argument("--guidance-scale", type=float, default=None)
    parser.add_argument("--out", default="outputs/video.mp4", help="output video path (.mp4)")
    parser.add_argument("--compare", action="store_true", help="also run the uncached baseline and compare")
    parser.add_argument("--fps", type=int, default=8)
    parser.add_argument("--upscale", type=int, default=None,
                        help="nearest-neighbour upscaling of written videos (default: up to >= 256 px); "
                             "metrics always use native frames")
    parser.add_argument("--stats-json", default=None, help="write the run's stats (and comparison) as JSON here")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: the checkpoint's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--no-warmup-run", action="store_true",
                        help="with --compare, skip the short untimed run that warms up kernels and caches first")
    add_method_arguments(parser)


def _check(args: argparse.Namespace) -> None:
    if not args.out.endswith(".mp4"):
        raise ValueError(f"--out must end with .mp4, got {args.out!r}.")
    for name in ("steps", "height", "width", "frames", "fps"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name} must be positive, got {value}.")
    if not args.prompt.strip():
        raise ValueError("--prompt is empty.")


def _auto_upscale(frames, requested: int | None) -> int:
    if requested is not None:
        return max(1, requested)
    shorter = min(frames.shape[1:3])
    return max(1, 256 // shorter)


def run(args: argparse.Namespace) -> int:
    from mmcache.cli.hints import no_reuse_hint
    from mmcache.pipelines.generation import GenerationRequest, run_generation
    from mmcache.pipelines.loader import default_model, generation_defaults, load
    from mmcache.quality import psnr, ssim
    from mmcache.video import side_by_side, upscale, write_mp4

    _check(args)
    configs = configs_from_args(args)
    model = args.model or default_model()
    pipe = load(model, device=args.device, dtype=args.dtype)
    pipe.set_progress_bar_config(disable=args.quiet)
    request = GenerationRequest(
        prompt=args.prompt, negative_prompt=args.negative_prompt, num_inference_steps=args.steps, seed=args.seed,
        height=args.height, width=args.width, num_frames=args.frames, guidance_scale=args.guidance_scale,
    ).with_defaults(generation_defaults(model))
    method = configs[0].method if configs else "none"
    print(f"model {model} | method {method} | steps {request.num_inference_steps} | seed {request.seed}")
    report: dict = {"model": model, "request": vars(request), "configs": [c.to_dict() for c in configs]}
    if args.compare and not args.no_warmup_run:
        run_generation(pipe, dataclasses.replace(request, num_inference_steps=2))
    baseline = run_generation(pipe, request) if args.compare else None
    result = run_generation(pipe, request, configs) if configs or not args.compare else baseline
    out = Path(args.out)
    factor = _auto_upscale(result.frames, args.upscale)
    write_mp4(upscale(result.frames, factor), out, fps=args.fps)
    print(result.stats)
    hint = no_reuse_hint(result.stats) if configs else None
    if hint:
        print(hint)
    print(f"wrote {out} ({result.frames.shape[0]} frames, {result.frames.shape[2]}x{result.frames.shape[1]}, "
          f"{result.wall_seconds:.2f} s)")
    report["stats"] = result.stats.as_dict()
    report["wall_seconds"] = result.wall_seconds
    if baseline is not None:
        base_path = out.with_name(out.stem + "_baseline.mp4")
        compare_path = out.with_name(out.stem + "_compare.mp4")
        write_mp4(upscale(baseline.frames, factor), base_path, fps=args.fps)
        label = f"{method} {baseline.wall_seconds / result.wall_seconds:.2f}x"
        write_mp4(upscale(side_by_side(baseline.frames, result.frames, ("baseline", label)), factor), compare_path,
                  fps=args.fps)
        comparison = {
            "baseline_wall_seconds": baseline.wall_seconds,
            "cached_wall_seconds": result.wall_seconds,
            "wall_speedup": baseline.wall_seconds / result.wall_seconds,
            "baseline_denoiser_calls": baseline.stats.calls,
            "cached_denoiser_calls_computed": result.stats.computed,
            "denoiser_call_speedup": baseline.stats.calls / max(1, result.stats.computed),
            "denoiser_time_speedup": (baseline.stats.denoiser_seconds / result.stats.denoiser_seconds
                                      if baseline.stats.denoiser_seconds and result.stats.denoiser_seconds else None),
            "psnr_db": psnr(result.frames, baseline.frames),
            "ssim": ssim(result.frames, baseline.frames),
        }
        report["comparison"] = comparison
        print(f"wrote {base_path} and {compare_path}")
        print(f"speedup: wall {comparison['wall_speedup']:.2f}x ({baseline.wall_seconds:.2f} s -> "
              f"{result.wall_seconds:.2f} s), denoiser calls {comparison['denoiser_call_speedup']:.2f}x "
              f"({baseline.stats.calls} -> {result.stats.computed} computed)"
              + (f", denoiser time {comparison['denoiser_time_speedup']:.2f}x"
                 if comparison["denoiser_time_speedup"] else ""))
        print(f"fidelity vs baseline: PSNR {comparison['psnr_db']:.2f} dB, SSIM {comparison['ssim']:.4f}")
    if args.stats_json:
        atomic_write_json(args.stats_json, report)
        print(f"wrote {args.stats_json}")
    return 0
