"""``mmcache calibrate --method hack``: classify a VAR model's heads (contextual or structural) from sampling runs.

Everything is checked before the model loads: the model must be a next-scale-prediction one (``tiny:var``,
``toy-var`` or a folder saved by ``VARPipeline``, whose transformer config says how it is conditioned), and
every prompt must be a caption in its words or, for a class-conditioned model, a class label it has.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..errors import ConfigError
from ..validation.checks import check_device, check_output_file

DEFAULT_CAPTIONS = 8
# flags of the other methods, refused here: (flag, attribute)
OTHER_METHODS_FLAGS = (("--steps", "steps"), ("--frames", "frames"), ("--height", "height"), ("--width", "width"),
                       ("--negative-prompt", "negative_prompt"), ("--threshold", "threshold"),
                       ("--granularity", "granularity"), ("--final-steps", "final_steps"), ("--budget", "budget"),
                       ("--images", "images"))
# VARPipeline's call knobs: (flag, attribute = the call's keyword)
VAR_CALL_FLAGS = (("--guidance-scale", "guidance_scale"), ("--top-k", "top_k"), ("--top-p", "top_p"),
                  ("--guidance-ramp", "guidance_ramp"), ("--num-images", "num_images"))
VAR_ONLY_FLAGS = (("--contextual-fraction", "contextual_fraction"), *VAR_CALL_FLAGS[1:])
VAR_MODELS = "toy-var, tiny:var or a folder saved by VARPipeline"


def is_given(value: Any) -> bool:
    """Whether a flag was set (its default, ``None``, ``False`` or empty, means not)."""
    return value is not None and value is not False and value != () and value != []


def given_flags(args: argparse.Namespace, flags: tuple[tuple[str, str], ...]) -> list[str]:
    """The flags of ``flags`` set on the command line."""
    return [flag for flag, name in flags if is_given(getattr(args, name))]


def is_var_model(model: str) -> bool:
    """Whether ``model`` names ``tiny:var`` or a saved VARPipeline folder (bundled or local); nothing is loaded."""
    from mmcache.pipelines.loader import TINY_PREFIX, TINY_VAR, ModelNotFoundError, pipeline_folder
    from mmcache.pipelines.var.pipeline import is_var_folder

    if model == TINY_PREFIX + TINY_VAR:
        return True
    try:
        return is_var_folder(pipeline_folder(model))
    except ModelNotFoundError:
        return False


def checked_var_conditioning(model: str) -> tuple[list[str] | None, int]:
    """``(caption words or None, class count)`` of the VAR model ``model`` names, read without loading it."""
    from mmcache.pipelines.loader import model_source, var_conditioning

    model_source(model)  # a model it cannot find: one error saying what to pass
    if not is_var_model(model):
        raise ConfigError(f"{model} is not a next-scale-prediction (VAR) model; --method hack calibrates {VAR_MODELS}.")
    return var_conditioning(model)


def builtin_captions(limit: int | None) -> list[str]:
    """``limit`` (default 8) training captions of the shapes world, spread evenly over them (never held-out ones):
    the captions toy-var's shipped calibration was made on."""
    from mmcache.pipelines.var.captions import calibration_captions, train_image_specs

    return calibration_captions(min(limit or DEFAULT_CAPTIONS, len(train_image_specs())))


def hack_prompts(source: str, limit: int | None, words: list[str] | None, classes: int) -> list[Any]:
    """The calibration prompts: captions checked against ``words``, or class labels (ints) below ``classes``."""
    from mmcache.eval.prompts import BUILTIN, load_prompts
    from mmcache.pipelines.var.pipeline import caption_ids, class_label

    if source == BUILTIN and not words:
        raise ConfigError("--prompts builtin gives captions, but this model is class-conditioned; give a file of "
                          "class labels (one whole number per line).")
    prompts = builtin_captions(limit) if source == BUILTIN else list(load_prompts(source, limit).prompts)
    if words:
        for prompt in prompts:
            caption_ids(prompt, words)
        return prompts
    labels = []
    for prompt in prompts:
        if not re.fullmatch(r"\d+", prompt):
            raise ConfigError(f"Prompt {prompt!r} in {source} is not a class label; this model is class-conditioned "
                              f"(labels 0 … {classes - 1}, one whole number per line).")
        labels.append(class_label(int(prompt), classes))
    return labels


def call_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The VARPipeline call knobs given on the command line (the rest keep the model's defaults)."""
    if args.guidance_scale is not None and args.guidance_scale < 1:
        raise ConfigError(f"--guidance-scale must be at least 1 for a VAR model (1 turns guidance off), got "
                          f"{args.guidance_scale}.")
    return {name: getattr(args, name) for _, name in VAR_CALL_FLAGS if is_given(getattr(args, name))}


def run_hack(args: argparse.Namespace) -> int:
    from mmcache.calibration.api import calibrate
    from mmcache.pipelines.loader import load

    refused = given_flags(args, OTHER_METHODS_FLAGS)
    if refused:
        raise ConfigError(f"--method hack does not take {', '.join(refused)}: it calibrates a next-scale-prediction "
                          "(VAR) model (its flags: --model, --prompts, --limit, --seeds, --contextual-fraction, "
                          "--guidance-scale, --top-k, --top-p, --guidance-ramp, --num-images).")
    if args.model is None:
        raise ConfigError(f"--method hack needs --model: {VAR_MODELS}.")
    words, classes = checked_var_conditioning(args.model)
    kwargs = call_kwargs(args)
    check_output_file("--out", args.out, ".json")
    check_device("--device", args.device)
    prompts = hack_prompts(args.prompts, args.limit, words, classes)
    seeds = list(args.seeds)
    fraction = args.contextual_fraction if args.contextual_fraction is not None else 0.5
    pipe = load(args.model, device=args.device, dtype=args.dtype)
    pipe.set_progress_bar_config(disable=True)
    print(f"calibrating hack on {args.model}: {len(prompts)} prompts x {len(seeds)} seeds, "
          f"{fraction:.0%} of the heads contextual")
    calibration = calibrate(pipe, method="hack", prompts=prompts, seeds=seeds, contextual_fraction=fraction,
                            progress=not args.quiet, **kwargs)
    calibration.save(args.out)
    heads = calibration.target["num_heads"]
    print("contextual heads per layer: " + " ".join(f"{len(layer)}/{heads}" for layer in calibration.contextual_heads))
    print(f"wrote {args.out}")
    return 0
