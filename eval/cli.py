"""Evaluate methods against the unaccelerated model: video generation (speed, fidelity, VBench), video QA or
next-scale-prediction images.

--task video (the default): for every prompt x seed the baseline and every method run with the same
seed; videos are saved in VBench's naming (OUT/videos/METHOD/{prompt}-{i}.mp4). Results:
OUT/results.json, OUT/report.md, OUT/pareto.png. A rerun skips everything finished; `accelerate launch -m mmcache.eval ...`
splits the items across processes and nodes. See docs/EVAL.md.

Methods are written name:key=value,... and separated by commas, e.g.
  --methods easycache:threshold=0.1,easycache:threshold=0.2,diffusers-fbc:threshold=0.05
mmcache methods take their config fields; peers (diffusers-fbc, diffusers-magcache,
diffusers-taylorseer, diffusers-pab, diffusers-fastercache, diffusers-seacache, cache-dit) take
the fields of their diffusers / cache-dit config.

--task vqa: a video-QA model (toy-vlm, tiny:vlm or a folder saved by `python -m mmcache.pipelines.vlm.train`)
answers the four questions about each of --clips held-out clips, plainly and under each KV method, e.g.
  --task vqa --methods zipvl:tau=0.9,snapkv:budget=0.25,prefixkv:budget=0.25 --clips 50
Per method: exact-match accuracy (overall and per question kind), agreement with the plain model, prompt KV
kept, KV bytes held and prefill attention FLOPs over the plain model's, and the median answer time ratio.

--task image: a next-scale-prediction model (toy-var, tiny:var or a folder saved by VARPipeline) makes
--prompts N held-out images (the 15 held-out captions in turn, image i seeded seed + i for each of --seeds),
plainly and under each scale-KV method, e.g.
  --task image --methods hack:budget=0.3,scaletopk:budget=0.3 --prompts 45
Per method: PSNR and SSIM against the plain images, identical images, colour and shape adherence, peak KV
bytes, KV bytes held and attention FLOPs over the plain cache's, and the median wall-time ratio.

Every task records a failed item (with its error) and goes on; a rerun runs what is missing, --retry-failed
also what failed, and --report-only nothing (it merges the records and writes the reports). Flags of the
other tasks are refused.
"""

from __future__ import annotations

import argparse
from typing import Any

from mmcache.validation.arg_types import DTYPES, non_negative_float, positive_int, seed_list
from mmcache.validation.checks import check_output_folder

from .errors import EvalError
from .prompts import BUILTIN
from .report_only import check_has_records, check_report_only_flags
from .task_flags import (DEFAULT_CALIBRATION_CLIPS, DEFAULT_CALIBRATION_PROMPTS, DEFAULT_CLIPS, DEFAULT_IMAGES,
                         check_task_flags, with_defaults)
from .vbench_runner import DEFAULT_DIMENSIONS


# defaults of the video task's flags that default to None on the command line (see task_flags)
VIDEO_DEFAULTS = {"prompts": BUILTIN, "seeds": (0,), "fps": 8, "vbench": "auto",
                  "vbench_dimensions": ",".join(DEFAULT_DIMENSIONS), "out": "outputs/eval"}
VQA_OUT = "outputs/eval-vqa"
IMAGE_OUT = "outputs/eval-image"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--task", choices=("video", "vqa", "image"), default="video",
                        help="video: generation methods on a video model (default); vqa: KV methods on a video-QA "
                             "model; image: scale-KV methods on a next-scale-prediction (VAR) image model")
    parser.add_argument("--model", default=None,
                        help="bundled name (toy-t2v), tiny:<family>, a local diffusers folder or a hub id "
                             "(default: toy-t2v, or tiny:wan2.1-t2v when the bundled weights are absent); "
                             "with --task vqa: toy-vlm, tiny:vlm or a folder saved by the VLM trainer (default: "
                             "toy-vlm, or tiny:vlm when its weights are absent); with --task image: toy-var, tiny:var "
                             "or a folder saved by VARPipeline (default: toy-var, or tiny:var without its weights)")
    parser.add_argument("--methods", action="append", default=None, metavar="SPECS",
                        help="comma-separated method specs name:key=value,... (repeatable; default: easycache, "
                             "with --task vqa prefixkv, with --task image hack); the baseline (vqa, image: the plain "
                             "model) always runs")
    parser.add_argument("--prompts", default=None,
                        help="'builtin' (reference-model captions), a text file with one prompt per line "
                             "(VBench's prompts/*.txt format) or a JSON list (default: builtin); with --task image: "
                             f"how many held-out images, the 15 held-out captions in turn (default: {DEFAULT_IMAGES})")
    parser.add_argument("--limit-prompts", type=positive_int, default=None, metavar="N", help="use only the first N prompts")
    parser.add_argument("--seeds", type=seed_list, default=None,
                        help="comma-separated seeds; the i-th is sample i in file names (default: 0); with --task "
                             "image, image i of seed s is seeded s + i")
    parser.add_argument("--steps", type=positive_int, default=None, help="denoising steps (default: the model's, else 50)")
    parser.add_argument("--height", type=positive_int, default=None)
    parser.add_argument("--width", type=positive_int, default=None)
    parser.add_argument("--frames", type=positive_int, default=None, help="number of video frames")
    parser.add_argument("--guidance-scale", type=non_negative_float, default=None)
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="default: the checkpoint's")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: this process's accelerator)")
    parser.add_argument("--out", default=None,
                        help=f"output folder (default: outputs/eval, with --task vqa {VQA_OUT}, with --task image "
                             f"{IMAGE_OUT})")
    parser.add_argument("--fps", type=positive_int, default=None,
                        help="frame rate of the written videos (default: 8, as VBench)")
    parser.add_argument("--vbench", choices=("auto", "off"), default=None,
                        help="auto: run VBench where the package, a GPU and the weights are present (default)")
    parser.add_argument("--vbench-dimensions", default=None,
                        help="comma-separated VBench dimensions (custom-input mode; default: "
                             f"{','.join(DEFAULT_DIMENSIONS)})")
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
    vqa = parser.add_argument_group("--task vqa")
    vqa.add_argument("--clips", type=positive_int, default=None,
                     help=f"held-out clips, each asked the four questions (default: {DEFAULT_CLIPS})")
    vqa.add_argument("--calibration-clips", type=positive_int, default=None, metavar="N",
                     help="clips of the training captions (x 4 questions) PrefixKV is calibrated on, once per budget, "
                          f"where a spec gives no calibration= file (default: {DEFAULT_CALIBRATION_CLIPS})")
    image = parser.add_argument_group("--task image")
    image.add_argument("--calibration-prompts", type=positive_int, default=None, metavar="N",
                       help="training captions HACK's head classes come from, where a hack or scalekv spec gives no "
                            "calibration= file and the model ships none (default: "
                            f"{DEFAULT_CALIBRATION_PROMPTS})")


def run(args: argparse.Namespace) -> int:
    check_task_flags(args)
    check_report_only_flags(args)
    if args.task == "vqa":
        return _run_vqa(args)
    if args.task == "image":
        return _run_image(args)
    return _run_video(with_defaults(args, VIDEO_DEFAULTS))


def _checked_out(args: argparse.Namespace, default: str) -> str:
    """The output folder (``--out``, else ``default``), checked; with --report-only it must hold records."""
    out = args.out or default
    check_output_folder("--out", out)
    if args.report_only:
        check_has_records(out, args.task)
    return out


def _shared_options(args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``plain_task_options.PlainTaskOptions`` given on the command line (not ``out``)."""
    return {"model": args.model, "dtype": args.dtype, "device": args.device, "force": args.force,
            "retry_failed": args.retry_failed, "report_only": args.report_only, "quiet": args.quiet}


def _run_vqa(args: argparse.Namespace) -> int:
    from .vqa_evaluation import run_vqa_evaluation
    from .vqa_options import VqaOptions

    options = VqaOptions(out=_checked_out(args, VQA_OUT), clips=args.clips or DEFAULT_CLIPS,
                         calibration_clips=args.calibration_clips or DEFAULT_CALIBRATION_CLIPS, **_shared_options(args))
    if args.methods:
        options.method_texts = args.methods
    return run_vqa_evaluation(options)


def image_count(text: str | None) -> int:
    """``--prompts`` of --task image: a whole number of images, at least 1."""
    if text is None:
        return DEFAULT_IMAGES
    if not text.strip().isdigit() or int(text) < 1:
        raise EvalError(f"--prompts {text}: with --task image it is how many held-out images to make (a whole number "
                        f">= 1, the 15 held-out captions in turn), e.g. --prompts {DEFAULT_IMAGES}.")
    return int(text)


def _run_image(args: argparse.Namespace) -> int:
    from .image_evaluation import run_image_evaluation
    from .image_options import ImageOptions

    images = image_count(args.prompts)
    options = ImageOptions(out=_checked_out(args, IMAGE_OUT), images=images, seeds=args.seeds or (0,),
                           calibration_prompts=args.calibration_prompts or DEFAULT_CALIBRATION_PROMPTS,
                           **_shared_options(args))
    if args.methods:
        options.method_texts = args.methods
    return run_image_evaluation(options)


def _run_video(args: argparse.Namespace) -> int:
    from .evaluation import EvalOptions, run_evaluation
    from .vbench_runner import check_dimensions

    _checked_out(args, args.out)
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
