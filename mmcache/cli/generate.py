"""Generate a video with a cache method; with --compare, also the uncached baseline, side by side.

On a next-scale-prediction image model (toy-var, tiny:var) it generates images with a KV method (default:
hack) instead; see ``generate_image``.

--compare runs the baseline first with the same seed, writes OUT (cached), OUT_baseline.mp4 and
OUT_compare.mp4 (side by side), and prints the speedup (wall clock and denoiser calls) and the
PSNR/SSIM of the cached video against the baseline. Videos are H.264 MP4s that browsers play.
Each side is timed --timing-runs times (default 2, alternating) and its fastest run counts, so one
stall of the machine cannot fake a speedup; a run far slower than its side's fastest is named.
Every value is checked before the model loads.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..files import atomic_write_json
from ..validation.arg_types import DTYPES, non_negative_float, positive_int, seed_int
from ..validation.checks import InputError, check_device, check_output_file
from .method_args import add_method_arguments, configs_from_args

DEFAULT_TIMING_RUNS = 2
VIDEO_PROMPT = "a red circle moving left on a black background"
IMAGE_PROMPT = "a red circle on a black background"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="bundled name (toy-t2v), tiny:<family>, a local diffusers folder or a hub id "
                             "(default: toy-t2v, or tiny:wan2.1-t2v when the bundled weights are absent)")
    parser.add_argument("--prompt", default=None,
                        help=f"what to generate (default: {VIDEO_PROMPT!r}; on image models {IMAGE_PROMPT!r})")
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--steps", type=positive_int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument("--height", type=positive_int, default=None)
    parser.add_argument("--width", type=positive_int, default=None)
    parser.add_argument("--frames", type=positive_int, default=None, help="number of video frames")
    parser.add_argument("--guidance-scale", type=non_negative_float, default=None)
    parser.add_argument("--out", default=None,
                        help="output path: a video .mp4 (default: outputs/video.mp4), or a .png for an image model "
                             "(default: outputs/image.png)")
    parser.add_argument("--num-images", type=positive_int, default=1, help="images per call (image models)")
    parser.add_argument("--compare", action="store_true", help="also run the uncached baseline and compare")
    parser.add_argument("--timing-runs", type=positive_int, default=None, metavar="N",
                        help=f"with --compare, time each side N times, alternating, and keep its fastest run "
                             f"(default: {DEFAULT_TIMING_RUNS}; 1 times each side once)")
    parser.add_argument("--fps", type=positive_int, default=8)
    parser.add_argument("--upscale", type=positive_int, default=None,
                        help="nearest-neighbour upscaling of written videos (default: up to >= 256 px); "
                             "metrics always use native frames")
    parser.add_argument("--stats-json", default=None, help="write the run's stats (and comparison) as JSON here")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="default: the checkpoint's")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--no-warmup-run", action="store_true",
                        help="with --compare, skip the short untimed runs that warm up kernels and caches first")
    add_method_arguments(parser, default=None, default_help="easycache; hack on image models")


def _check(args: argparse.Namespace) -> None:
    """Everything about the flags that can be known without loading the model."""
    if not args.prompt.strip():
        raise InputError("--prompt is empty; describe the video to generate.")
    out = check_output_file("--out", args.out, ".mp4")
    if args.compare:
        for suffix in ("_baseline", "_compare"):
            check_output_file("--out", str(out.with_name(out.stem + suffix + ".mp4")), ".mp4")
    elif args.timing_runs is not None or args.no_warmup_run:
        flag = "--timing-runs" if args.timing_runs is not None else "--no-warmup-run"
        raise InputError(f"{flag} applies only with --compare; add --compare or leave {flag} out.")
    if args.stats_json is not None:
        check_output_file("--stats-json", args.stats_json, ".json")
    check_device("--device", args.device)


def _auto_upscale(frames, requested: int | None) -> int:
    if requested is not None:
        return requested
    shorter = min(frames.shape[1:3])
    return max(1, 256 // shorter)


def run(args: argparse.Namespace) -> int:
    from mmcache.cli.hints import no_reuse_hint
    from mmcache.pipelines.generation import GenerationRequest, run_generation
    from mmcache.pipelines.loader import default_model, generation_defaults, load, method_preset
    from mmcache.quality import psnr, ssim
    from mmcache.video import side_by_side, upscale, write_mp4

    from mmcache.pipelines.request_checks import check_loaded, check_model_and_size
    from ..side_timing import outlier_notes, time_sides

    from mmcache.pipelines.loader import is_next_scale

    model = args.model or default_model()
    if is_next_scale(model):
        from .generate_image import run_image

        args.out = args.out or "outputs/image.png"
        args.prompt = IMAGE_PROMPT if args.prompt is None else args.prompt
        if not args.prompt.strip():
            raise InputError("--prompt is empty; describe the image to generate.")
        args.method = args.method or "hack"
        configs = configs_from_args(args, method_preset(model, args.method))
        check_device("--device", args.device)
        if args.stats_json is not None:
            check_output_file("--stats-json", args.stats_json, ".json")
        return run_image(args, model, configs)
    args.out = args.out or "outputs/video.mp4"
    args.prompt = VIDEO_PROMPT if args.prompt is None else args.prompt
    args.method = args.method or "easycache"
    if args.num_images != 1:
        raise InputError("--num-images applies to image models (toy-var); a video model makes one video per call.")
    _check(args)
    configs = configs_from_args(args, method_preset(model, args.method))
    if args.compare and not configs:
        raise InputError("--compare compares a cache method with the baseline; choose one with --method.")
    request = GenerationRequest(
        prompt=args.prompt, negative_prompt=args.negative_prompt, num_inference_steps=args.steps, seed=args.seed,
        height=args.height, width=args.width, num_frames=args.frames, guidance_scale=args.guidance_scale,
    ).with_defaults(generation_defaults(model))
    check_model_and_size(model, request)
    pipe = load(model, device=args.device, dtype=args.dtype)
    pipe.set_progress_bar_config(disable=args.quiet)
    check_loaded(model, pipe, request, {"--height": args.height, "--width": args.width, "--frames": args.frames,
                                        "--negative-prompt": args.negative_prompt,
                                        "--guidance-scale": args.guidance_scale, "--steps": args.steps})
    method = configs[0].method if configs else "none"
    print(f"model {model} | method {method} | steps {request.num_inference_steps} | seed {request.seed}")
    report: dict = {"model": model, "request": vars(request), "configs": [c.to_dict() for c in configs]}
    if not args.compare:
        result, sides = run_generation(pipe, request, configs), None
    else:
        if not args.no_warmup_run:  # both code paths, so neither side's first timed run pays start-up costs
            warm_up = dataclasses.replace(request, num_inference_steps=2)
            run_generation(pipe, warm_up)
            run_generation(pipe, warm_up, configs)
        sides = time_sides(lambda: run_generation(pipe, request), lambda: run_generation(pipe, request, configs),
                           args.timing_runs or DEFAULT_TIMING_RUNS)
        result = sides[1].first
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
    if sides is not None:
        baseline_side, cached_side = sides
        baseline = baseline_side.first
        base_path = out.with_name(out.stem + "_baseline.mp4")
        compare_path = out.with_name(out.stem + "_compare.mp4")
        write_mp4(upscale(baseline.frames, factor), base_path, fps=args.fps)
        base_wall, cached_wall = baseline_side.wall_seconds, cached_side.wall_seconds
        base_denoiser, cached_denoiser = baseline_side.denoiser_seconds, cached_side.denoiser_seconds
        label = f"{method} {base_wall / cached_wall:.2f}x"
        write_mp4(upscale(side_by_side(baseline.frames, result.frames, ("baseline", label)), factor), compare_path,
                  fps=args.fps)
        comparison = {
            "timing_runs": len(baseline_side.wall),
            "baseline_wall_seconds": base_wall,
            "cached_wall_seconds": cached_wall,
            "baseline_wall_seconds_runs": baseline_side.wall,
            "cached_wall_seconds_runs": cached_side.wall,
            "wall_speedup": base_wall / cached_wall,
            "baseline_denoiser_calls": baseline.stats.calls,
            "cached_denoiser_calls_computed": result.stats.computed,
            "denoiser_call_speedup": baseline.stats.calls / max(1, result.stats.computed),
            "denoiser_time_speedup": base_denoiser / cached_denoiser if base_denoiser and cached_denoiser else None,
            "timing_outliers": {"baseline": baseline_side.outliers(), "cached": cached_side.outliers()},
            "psnr_db": psnr(result.frames, baseline.frames),
            "ssim": ssim(result.frames, baseline.frames),
        }
        report["comparison"] = comparison
        print(f"wrote {base_path} and {compare_path}")
        for note in outlier_notes({"baseline": baseline_side, "cached": cached_side}):
            print(note)
        runs = f"fastest of {comparison['timing_runs']} runs each" if comparison["timing_runs"] > 1 else "one run each"
        work = (f"block-stack work saved {result.stats.compute_saved:.1%}" if result.stats.chunk_timeline else
                f"denoiser calls {comparison['denoiser_call_speedup']:.2f}x "
                f"({baseline.stats.calls} -> {result.stats.computed} computed)")
        print(f"speedup: wall {comparison['wall_speedup']:.2f}x ({base_wall:.2f} s -> {cached_wall:.2f} s, {runs}), "
              f"{work}"
              + (f", denoiser time {comparison['denoiser_time_speedup']:.2f}x"
                 if comparison["denoiser_time_speedup"] else ""))
        print(f"fidelity vs baseline: PSNR {comparison['psnr_db']:.2f} dB, SSIM {comparison['ssim']:.4f}")
    if args.stats_json:
        atomic_write_json(args.stats_json, report)
        print(f"wrote {args.stats_json}")
    return 0
