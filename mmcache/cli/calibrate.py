"""Calibrate a method offline and write a calibration file: ERTACache (full-compute denoising runs of a
diffusers pipeline) or PrefixKV (prefill passes of a vision-language model, ``--method prefixkv``).

The file records the model and settings it was made for (ERTACache: scheduler, steps, latent shapes,
guidance; PrefixKV: the model and the budget); using it on anything else is refused with the
mismatch named. Calibrate with the settings you will generate with.
"""

from __future__ import annotations

import argparse

from ..validation.arg_types import (DTYPES, finite_float, non_negative_float, non_negative_int, open_fraction,
                                    positive_int, seed_list)
from ..validation.checks import check_device, check_output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="as for `mmcache generate` (default: toy-t2v when present)")
    parser.add_argument("--method", default="ertacache", choices=["ertacache", "prefixkv"])
    parser.add_argument("--prompts", required=True,
                        help="'builtin' (the reference-model prompts), or a file: one prompt per line, or a JSON list")
    parser.add_argument("--out", required=True, help="calibration file to write (.json)")
    parser.add_argument("--threshold", type=finite_float, default=0.1,
                        help="ERTACache lambda: reuse while the cached residual's relative L1 error stays below it")
    parser.add_argument("--seeds", type=seed_list, default=(0,), help="comma-separated seeds, each run with every prompt")
    parser.add_argument("--budget", type=open_fraction, default=None,
                        help="PrefixKV: the fraction of the KV cache kept (default 0.5)")
    parser.add_argument("--images", nargs="+", default=(),
                        help="PrefixKV on a saved model folder: one image per prompt, or one for all")
    parser.add_argument("--granularity", default="channel", choices=["channel", "scalar"],
                        help="error model per latent channel or one scalar pair per step")
    parser.add_argument("--final-steps", type=non_negative_int, default=1, help="last steps always computed")
    parser.add_argument("--steps", type=positive_int, default=None)
    parser.add_argument("--height", type=positive_int, default=None)
    parser.add_argument("--width", type=positive_int, default=None)
    parser.add_argument("--frames", type=positive_int, default=None)
    parser.add_argument("--guidance-scale", type=non_negative_float, default=None)
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None, choices=DTYPES)
    parser.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.method == "prefixkv":
        from .calibrate_prefixkv import run_prefixkv

        return run_prefixkv(args)
    if args.budget is not None or args.images:
        from ..errors import ConfigError

        raise ConfigError("--budget and --images belong to --method prefixkv.")
    from mmcache.calibration.api import calibrate
    from mmcache.pipelines.generation import GenerationRequest
    from mmcache.pipelines.loader import default_model, generation_defaults, load
    from mmcache.eval.prompts import load_prompts

    from mmcache.pipelines.request_checks import check_loaded, check_model_and_size

    check_output_file("--out", args.out, ".json")
    check_device("--device", args.device)
    prompts = list(load_prompts(args.prompts).prompts)
    seeds = list(args.seeds)
    model = args.model or default_model()
    request = GenerationRequest(
        prompt=prompts[0], negative_prompt=args.negative_prompt, num_inference_steps=args.steps,
        height=args.height, width=args.width, num_frames=args.frames, guidance_scale=args.guidance_scale,
    ).with_defaults(generation_defaults(model))
    check_model_and_size(model, request)
    pipe = load(model, device=args.device, dtype=args.dtype)
    pipe.set_progress_bar_config(disable=True)
    kwargs = check_loaded(model, pipe, request, {"--height": args.height, "--width": args.width,
                                                 "--frames": args.frames, "--negative-prompt": args.negative_prompt,
                                                 "--guidance-scale": args.guidance_scale, "--steps": args.steps})
    kwargs.pop("prompt")
    kwargs.pop("output_type", None)
    print(f"calibrating {args.method} on {model}: {len(prompts)} prompts x {len(seeds)} seeds, "
          f"{kwargs.get('num_inference_steps')} steps, threshold {args.threshold}")
    calibration = calibrate(pipe, args.method, prompts, seeds, threshold=args.threshold,
                            granularity=args.granularity, final_steps=args.final_steps, progress=not args.quiet,
                            **kwargs)
    calibration.save(args.out)
    steps = calibration.num_steps
    reused = len(calibration.reuse_steps)
    print(f"reuse schedule: {reused}/{steps} steps reused ({steps / max(1, steps - reused):.2f}x fewer denoiser "
          f"calls): {calibration.reuse_steps}")
    print("timestep adjustment: " + ("on (flow-matching Euler sampler)" if calibration.time_scale else
                                      "unavailable for this sampler (schedule + rectification only)"))
    print(f"wrote {args.out}")
    return 0
