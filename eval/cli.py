"""Evaluate cache methods against the uncached baseline and their peers: speed, fidelity, VBench.

For every prompt x seed the baseline and every method run with the same seed; videos are saved in
VBench's naming (OUT/videos/METHOD/{prompt}-{i}.mp4). Results: OUT/results.json, OUT/report.md,
OUT/pareto.png. A rerun skips everything finished; `accelerate launch -m mmcache.eval ...`
splits the items across processes and nodes. See docs/EVAL.md.

Methods are written name:key=value,... and separated by commas, e.g.
  --methods easycache:threshold=0.1,easycache:threshold=0.2,diffusers-fbc:threshold=0.05
mmcache methods take their config fields; peers (diffusers-fbc, diffusers-magcache,
diffusers-taylorseer, diffusers-pab, diffusers-fastercache, diffusers-seacache, cache-dit) take
the fields of their diffusers / cache-dit config.
"""

from __future__ import annotations

import argparse

from mmcache.validation.arg_types import DTYPES, non_negative_float, positive_int, seed_list
from mmcache.validation.checks import check_output_folder

from .errors import EvalError
from .prompts import BUILTIN
from .vbench_runner import DEFAULT_DIMENSIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--model", default=None,
                        help="bundled name (toy-t2v), tiny:<family>, a local diffusers folder or a hub id "
                             "(default: toy-t2v, or tiny:wan2.1-t2v when the bundled weights are absent)")
    parser.add_argument("--methods", action="append", default=None, metavar="SPECS",
                        help="comma-separated method specs name:key=value,... (repeatable; default: easycache); "
                             "the baseline always runs")
    parser.add_argument("--prompts", default=BUILTIN,
                        help="'builtin' (reference-model captions), a text file with one prompt per line "
                             "(VBench's prompts/*.txt format) or a JSON list (default: builtin)")
    parser.add_argument("--limit-prompts", type=positive_int, default=None, metavar="N", help="use only the first N prompts")
    parser.add_argument("--seeds", type=seed_list, default=(0,), help="comma-separated seeds; the i-th is sample i in file names")
    parser.add_argument("--steps", type=positive_int, default=None, help="denoising steps (default: the model's, else 50)")
    parser.add_argument("--height", type=positive_int, default=None)
    parser.add_argument("--width", type=positive_int, default=None)
    parser.add_argument("--frames", type=positive_int, default=None, help="number of video frames")
    parser.add_argument("--guidance-scale", type=non_negative_float, default=None)
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="default: the checkpoint's")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: this process's accelerator)")
    parser.add_argument("--out", default="outputs/eval", help="output folder (default: outputs/eval)")
    parser.add_argument("--fps", type=positive_int, default=8, help="frame rate of the written videos (VBench uses 8)")
    parser.add_argument("--vbench", choices=("auto", "off"), default="auto",
                        help="auto: run VBench where the package, a GPU and the weights are present (default)")
    parser.add_argument("--vbench-dimensions", default=",".join(DEFAULT_DIMENSIONS),
                        help="comma-separated VBench dimensions (custom-input mode)")
    parser.add_argument("--force", action="store_true",
                        help="reuse an output folder made for other settings, deleting its results")
    parser.add_argument("--retry-failed", action="store_true", help="run again the items recorded as failed")
    parser.add_argument("--report-only", action="store_true", help="generate nothing; merge records and report")
    parser.add_argument("--no-warmup-run", action="store_true",
                        help="skip the short untimed run that warms up each process before timing")
    parser.add_argument("--measure-compute", action="store_true",
                        help="count the denoiser's linear-layer MACs of every generation (compute saved, also for "
                             "peers that skip work inside a call); adds hook overhead to the timings")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from .evaluation import EvalOptions, run_evaluation
    from .vbench_runner import check_dimensions

    check_output_folder("--out", args.out)
    for flag in ("force", "retry_failed"):
        if args.report_only and getattr(args, flag):
            raise EvalError(f"--report-only generates nothing, so --{flag.replace('_', '-')} has nothing to do; "
                            "leave one of them out.")
    dimensions = [d.strip() for d in args.vbench_dimensions.split(",") if d.strip()]
    if not dimensions:
        raise EvalError("--vbench-dimensions is empty; name at least one dimension, or use --vbench off.")
    options = EvalOptions(
        model=args.model, method_texts=args.methods or ["easycache"], prompts=args.prompts,
        limit_prompts=args.limit_prompts, seeds=args.seeds, steps=args.steps, height=args.height,
        width=args.width, num_frames=args.frames, guidance_scale=args.guidance_scale,
        negative_prompt=args.negative_prompt, dtype=args.dtype, measure_compute=args.measure_compute,
        device=args.device, out=args.out, fps=args.fps,
        vbench=args.vbench == "auto",
        vbench_dimensions=tuple(check_dimensions(dimensions)),
        force=args.force, retry_failed=args.retry_failed, report_only=args.report_only,
        warmup_run=not args.no_warmup_run, quiet=args.quiet)
    return run_evaluation(options)
