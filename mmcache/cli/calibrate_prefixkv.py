"""``mmcache calibrate --method prefixkv``: per-layer eviction fractions of a vision-language model for a budget."""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from ..validation.checks import check_device, check_output_file

DEFAULT_BUDGET = 0.5
DIFFUSION_FLAGS = {"--steps": "steps", "--height": "height", "--width": "width", "--frames": "frames",
                   "--guidance-scale": "guidance_scale", "--negative-prompt": "negative_prompt",
                   "--threshold": "threshold", "--granularity": "granularity", "--final-steps": "final_steps"}


def run_prefixkv(args: argparse.Namespace) -> int:
    from mmcache.calibration.api import calibrate
    from mmcache.eval.prompts import load_prompts
    from mmcache.pipelines.loader import TINY_PREFIX, _resolve_dtype
    from mmcache.pipelines.vlm_loader import load_vlm, prompt_inputs, vlm_names

    given = [flag for flag, name in DIFFUSION_FLAGS.items() if getattr(args, name) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)} are for diffusion pipelines only; --method prefixkv calibrates a "
                          "vision-language model (flags: --model, --prompts, --limit, --images, --budget, --seeds).")
    if args.model is None:
        raise ConfigError(f"--method prefixkv needs --model: a saved transformers vision-language model folder, or a "
                          f"tiny random one ({', '.join(vlm_names())}).")
    if not args.model.startswith(TINY_PREFIX) and not args.images:
        raise ConfigError("--method prefixkv on a saved model needs --images: one image per prompt, or one for all.")
    check_output_file("--out", args.out, ".json")
    check_device("--device", args.device)
    prompts = list(load_prompts(args.prompts, args.limit).prompts)
    loaded = load_vlm(args.model, device=args.device, dtype=_resolve_dtype(args.dtype))
    inputs = prompt_inputs(loaded, prompts, list(args.images), list(args.seeds))
    budget = args.budget if args.budget is not None else DEFAULT_BUDGET
    print(f"calibrating prefixkv on {args.model}: {len(inputs)} prompts, budget {budget} of the KV cache kept")
    calibration = calibrate(loaded, method="prefixkv", inputs=inputs, budget=budget, progress=not args.quiet)
    calibration.save(args.out)
    fractions = " ".join(f"{fraction:.2f}" for fraction in calibration.evict_fractions)
    print(f"evicted per layer: {fractions}")
    print(f"wrote {args.out}")
    return 0
