"""Calibrate a step-skipping method offline (full-compute runs) and write a calibration file.

The file records the model, scheduler, steps, latent shapes and guidance it was made for; using it
on anything else is refused with the mismatch named. Calibrate with the settings you will generate
with (steps, resolution, frames, guidance).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="as for `mmcache generate` (default: toy-t2v when present)")
    parser.add_argument("--method", default="ertacache", choices=["ertacache"])
    parser.add_argument("--prompts", required=True,
                        help="'builtin' (the reference-model prompts), or a file: one prompt per line, or a JSON list")
    parser.add_argument("--out", required=True, help="calibration file to write (.json)")
    parser.add_argument("--threshold", type=float, default=0.1,
                        help="ERTACache lambda: reuse while the cached residual's relative L1 error stays below it")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, each run with every prompt")
    parser.add_argument("--granularity", default="channel", choices=["channel", "scalar"],
                        help="error model per latent channel or one scalar pair per step")
    parser.add_argument("--final-steps", type=int, default=1, help="last steps always computed")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--guidance-scale", type=float, default=None)
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--quiet", action="store_true")


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise ValueError(f"--seeds must be comma-separated integers, got {text!r}.") from error
    if not seeds:
        raise ValueError("--seeds is empty.")
    return seeds


def run(args: argparse.Namespace) -> int:
    from mmcache.calibration.api import calibrate
    from mmcache.pipelines.generation import GenerationRequest, call_arguments
    from mmcache.pipelines.loader import default_model, generation_defaults, load
    from mmcache.eval.prompts import load_prompts

    if not args.out.endswith(".json"):
        raise ValueError(f"--out must end with .json, got {args.out!r}.")
    prompts = list(load_prompts(args.prompts).prompts)
    seeds = parse_seeds(args.seeds)
    model = args.model or default_model()
    pipe = load(model, device=args.device, dtype=args.dtype)
    pipe.set_progress_bar_config(disable=True)
    request = GenerationRequest(
        prompt=prompts[0], negative_prompt=args.negative_prompt, num_inference_steps=args.steps,
        height=args.height, width=args.width, num_frames=args.frames, guidance_scale=args.guidance_scale,
    ).with_defaults(generation_defaults(model))
    kwargs = call_arguments(pipe, request)
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
