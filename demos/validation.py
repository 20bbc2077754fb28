"""Checks of the demo's inputs, each failing with one message that says what to change."""

from __future__ import annotations

import inspect
import math
import os
from pathlib import Path
from typing import Any

from mmcache.pipelines.generation import GenerationRequest, missing_inputs
from mmcache.pipelines.supported_sizes import UnsupportedSizeError, rules_for_pipe

STEPS_RANGE = (1, 200)
SIZE_RANGE = (16, 2048)
FRAMES_RANGE = (1, 1025)
GUIDANCE_RANGE = (0.0, 50.0)
SEED_RANGE = (0, 2**63 - 1)
MAX_PROMPT_CHARS = 2000


class DemoInputError(ValueError):
    """An input the demo cannot generate from; the message is shown to the user as is."""


def _finite_number(name: str, value: Any, what: str) -> float:
    """``value`` as a finite float; ``DemoInputError`` naming ``name`` for text, booleans, nan or inf."""
    if isinstance(value, bool):
        raise DemoInputError(f"{name} must be {what}, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DemoInputError(f"{name} must be {what}, got {value!r}.") from None
    if not math.isfinite(number):
        raise DemoInputError(f"{name} must be {what}, got {value!r}.")
    return number


def whole_number(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as a whole number from ``low`` to ``high``; ``DemoInputError`` naming ``name`` otherwise."""
    if value is None or value == "":
        raise DemoInputError(f"{name} is required (a whole number from {low} to {high}).")
    number = _finite_number(name, value, f"a whole number from {low} to {high}")
    if number != int(number):
        raise DemoInputError(f"{name} must be a whole number, got {value!r}.")
    if not low <= number <= high:
        raise DemoInputError(f"{name} must be from {low} to {high}, got {int(number)}.")
    return int(number)


def stripped_text(what: str, value: Any, empty: str, limit: int) -> str:
    """``value`` stripped; ``DemoInputError`` when it is not text, when it is empty (the message ``empty``) or when it
    is longer than ``limit`` characters (``what``: the control, e.g. "question")."""
    if value is not None and not isinstance(value, str):
        raise DemoInputError(f"The {what} must be text, got {type(value).__name__}.")
    text = (value or "").strip()
    if not text:
        raise DemoInputError(empty)
    if len(text) > limit:
        raise DemoInputError(f"The {what} is {len(text)} characters long; keep it under {limit}.")
    return text


def check_request(prompt: str | None, negative_prompt: str | None, seed: Any, steps: Any, height: Any, width: Any,
                  frames: Any, guidance_scale: Any) -> GenerationRequest:
    """The request the inputs describe, with the checks that need no model; ``DemoInputError`` otherwise."""
    if prompt is not None and not isinstance(prompt, str):
        raise DemoInputError(f"The prompt must be text, got {type(prompt).__name__}.")
    if negative_prompt is not None and not isinstance(negative_prompt, str):
        raise DemoInputError(f"The negative prompt must be text, got {type(negative_prompt).__name__}.")
    text = (prompt or "").strip()
    if not text:
        raise DemoInputError("The prompt is empty: describe the video to generate.")
    if len(text) > MAX_PROMPT_CHARS:
        raise DemoInputError(f"The prompt is {len(text)} characters long; keep it under {MAX_PROMPT_CHARS}.")
    if guidance_scale is None or guidance_scale == "":
        raise DemoInputError("guidance scale is required.")
    guidance = _finite_number("guidance scale", guidance_scale, "a number")
    if not GUIDANCE_RANGE[0] <= guidance <= GUIDANCE_RANGE[1]:
        raise DemoInputError(f"guidance scale must be from {GUIDANCE_RANGE[0]:g} to {GUIDANCE_RANGE[1]:g}, "
                             f"got {guidance:g}.")
    return GenerationRequest(
        prompt=text,
        negative_prompt=(negative_prompt or "").strip() or None,
        seed=whole_number("seed", seed, *SEED_RANGE),
        num_inference_steps=whole_number("steps", steps, *STEPS_RANGE),
        height=whole_number("height", height, *SIZE_RANGE),
        width=whole_number("width", width, *SIZE_RANGE),
        num_frames=whole_number("frames", frames, *FRAMES_RANGE),
        guidance_scale=guidance,
    )


def size_multiple(pipe: Any) -> int:
    """What height and width must be multiples of: the VAE's spatial factor times the patch size (at least 16)."""
    rules = rules_for_pipe("", pipe)
    return max(16, rules.multiple if rules is not None and rules.multiple else 8)


def accepts(pipe: Any, argument: str) -> bool:
    return argument in inspect.signature(type(pipe).__call__).parameters


def check_request_for_model(request: GenerationRequest, pipe: Any, model: str = "this model") -> GenerationRequest:
    """Checks that depend on the loaded pipeline (inputs, sizes, frame count); drops what it does not take."""
    missing = missing_inputs(pipe, {"prompt": request.prompt, **request.extra})
    if missing:
        raise DemoInputError(f"{type(pipe).__name__} needs {', '.join(missing)}, which this demo does not provide: "
                             "choose a text-to-video or text-to-image model.")
    multiple = size_multiple(pipe)
    for name in ("height", "width"):
        value = getattr(request, name)
        if value % multiple:
            raise DemoInputError(f"{name} must be a multiple of {multiple} for this model, got {value} "
                                 f"(try {max(multiple, round(value / multiple) * multiple)}).")
    if not accepts(pipe, "num_frames"):
        request.num_frames = None
    rules = rules_for_pipe(model, pipe)
    if rules is not None:
        try:
            rules.check(request.height, request.width, request.num_frames)
        except UnsupportedSizeError as error:
            raise DemoInputError(str(error)) from None
    return request


def check_model_name(model: str | None, known: list[str]) -> str:
    """A model the demo may load: one of ``known`` or a local diffusers folder."""
    name = (model or "").strip()
    if not name:
        raise DemoInputError("Choose a model.")
    if name in known:
        return name
    if os.path.isdir(name):
        if not (Path(name) / "model_index.json").is_file():
            raise DemoInputError(f"{name} is a folder but not a diffusers pipeline (no model_index.json).")
        return name
    raise DemoInputError(f"Unknown model {name!r}: choose one of {known} or enter the path of a local diffusers "
                         "folder (saved with save_pretrained).")
