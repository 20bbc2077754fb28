"""Calibrate a method offline and write a calibration file: ERTACache (full-compute denoising runs of a
diffusers pipeline), PrefixKV (prefill passes of a vision-language model, ``--method prefixkv``) or HACK
(sampling runs of a next-scale-prediction model, ``--method hack``: each head classed contextual or structural).

    mmcache calibrate --model toy-t2v --prompts builtin --steps 50 --out ertacache.json
    mmcache calibrate --method prefixkv --model tiny:qwen2-vl --prompts builtin --budget 0.2 --out prefixkv.json
    mmcache calibrate --method hack --model tiny:var --prompts builtin --seeds 0,1 --out hack.json

``--prompts builtin`` for HACK is 8 (``--limit``) training captions of the shapes world, spread evenly, never
held-out ones; a class-conditioned VAR model takes a file of class labels. Each method refuses the flags of
the others. The file records the model and settings it was made for (ERTACache: scheduler, steps, latent
shapes, guidance; PrefixKV: the model and the budget; HACK: the transformer's architecture); using it on
anything else is refused with the mismatch named. Calibrate with the settings you will generate with.
"""

from __future__ import annotations

import argparse

from ..validation.arg_types import (DTYPES, closed_fraction, finite_float, non_negative_float, non_negative_int,
                                    open_fraction, positive_int, seed_list)
from ..validation.checks import check_device, check_output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="as for `mmcache generate` (default: toy-t2v when present)")
    parser.add_argument("--method", default="ertacache", choices=["ertacache", "prefixkv", "hack"])
    parser.add_argument("--prompts", required=True,
                        help="'builtin' (the reference-model prompts; HACK: training captions of the shapes "
                             "world), or a file: one prompt per line, or a JSON list")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="use at most this many prompts (HACK's builtin: this many captions spread evenly, "
                             "default 8)")
    parser.add_argument("--out", required=True, help="calibration file to write (.json)")
    parser.add_argument("--threshold", type=finite_float, default=None,
                        help="ERTACache lambda: reuse while the cached residual's relative L1 error stays below it "
                             "(default 0.1)")
    parser.add_argument("--seeds", type=seed_list, default=(0,), help="comma-separated seeds, each run with every prompt")
    parser.add_argument("--budget", type=open_fraction, default=None,
                        help="PrefixKV: the fraction of the KV cache kept (default 0.5)")
    parser.add_argument("--images", nargs="+", default=(),
                        help="PrefixKV on a saved model folder: one image per prompt, or one for all")
    parser.add_argument("--granularity", default=None, choices=["channel", "scalar"],
                        help="ERTACache: error model per latent channel (default) or one scalar pair per step")
    parser.add_argument("--final-steps", type=non_negative_int, default=None,
                        help="ERTACache: last steps always computed (default 1)")
    parser.add_argument("--contextual-fraction", type=closed_fraction, default=None,
                        help="HACK: the share of all heads classed contextual (default 0.5)")
    parser.add_argument("--steps", type=positive_int, default=None)
    parser.add_argument("--height", type=positive_int, default=None)
    parser.add_argument("--width", type=positive_int, default=None)
    parser.add_argument("--frames", type=positive_int, default=None)
    parser.add_argument("--guidance-scale", type=non_negative_float, default=None,
                        help="as the pipeline's guidance_scale (a VAR model: at least 1, 1 turns guidance off)")
    parser.add_argument("--top-k", type=non_negative_int, default=None, help="HACK: VARPipeline's top_k (0: off)")
    parser.add_argument("--top-p", type=closed_fraction, default=None, help="HACK: VARPipeline's top_p (0: off)")
    parser.add_argument("--guidance-ramp", action="store_true", help="HACK: VARPipeline's guidance_ramp")
    parser.add_argument("--num-images", type=positive_int, default=None,
                        help="HACK: images per prompt and seed in each profiled call (default 1)")
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None, choices=DTYPES)
    parser.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from .calibrate_hack import VAR_ONLY_FLAGS, given_flags, is_var_model, run_hack

    if args.method == "hack":
        return run_hack(args)
    var_only = given_flags(args, VAR_ONLY_FLAGS)
    if var_only:
        raise ConfigError(f"--method {args.method} does not take {', '.join(var_only)}: only --method hack (a "
                          "next-scale-prediction model) does.")
    if args.model is not None and is_var_model(args.model):
        raise ConfigError(f"{args.model} is a next-scale-prediction (VAR) model; calibrate it with --method hack.")
    if args.method == "prefixkv":
        from .calibrate_prefixkv import run_prefixkv

        return run_prefixkv(args)
    if args.budget is not None or args.images:
        raise ConfigError("--budget and --images belong to --method prefixkv.")
    threshold = args.threshold if args.threshold is not None else 0.1
    from mmcache.calibration.api import calibrate
    from mmcache.pipelines.generation import GenerationRequest
    from mmcache.pipelines.loader import default_model, generation_defaults, load
    from mmcache.eval.prompts import load_prompts

    from mmcache.pipelines.request_checks import check_loaded, check_model_and_size

    check_output_file("--out", args.out, ".json")
    check_device("--device", args.device)
    prompts = list(load_prompts(args.prompts, args.limit).prompts)
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
          f"{kwargs.get('num_inference_steps')} steps, threshold {threshold}")
    calibration = calibrate(pipe, args.method, prompts, seeds, threshold=threshold,
                            granularity=args.granularity or "channel",
                            final_steps=args.final_steps if args.final_steps is not None else 1,
                            progress=not args.quiet, **kwargs)
    calibration.save(args.out)
    steps = calibration.num_steps
    reused = len(calibration.reuse_steps)
    print(f"reuse schedule: {reused}/{steps} steps reused ({steps / max(1, steps - reused):.2f}x fewer denoiser "
          f"calls): {calibration.reuse_steps}")
    print("timestep adjustment: " + ("on (flow-matching Euler sampler)" if calibration.time_scale else
                                      "unavailable for this sampler (schedule + rectification only)"))
    print(f"wrote {args.out}")
    return 0
