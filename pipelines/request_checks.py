"""Checks of a generation request against its model: before loading (sizes from the model's configs),
and once loaded (sizes, flags the pipeline takes, inputs it needs). One line per problem, naming the flag.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from mmcache.validation.checks import InputError

SIZE_FLAGS = {"height": "--height", "width": "--width", "frames": "--frames"}
# flag → the pipeline argument it sets
FLAG_ARGUMENTS = {"--height": "height", "--width": "width", "--frames": "num_frames",
                  "--negative-prompt": "negative_prompt", "--guidance-scale": "guidance_scale",
                  "--steps": "num_inference_steps"}


def refuse_vision_language(model: str) -> None:
    """A video-QA model answers questions, it generates no video: one line that points to ``mmcache ask``."""
    from .loader import is_vision_language

    if is_vision_language(model):
        raise InputError(f"{model} is a video-QA model: it answers questions about clips and generates no video; "
                         f"ask it with `mmcache ask --model {model} --video CLIP --question ...`.")


def check_model_and_size(model: str, request: Any) -> None:
    """``model`` can be found, generates video and, where its configs are on disk, supports the request's size."""
    from .loader import size_rules

    refuse_vision_language(model)
    rules = size_rules(model)
    if rules is not None:
        rules.check(request.height, request.width, request.num_frames, SIZE_FLAGS)


def check_loaded(model: str, pipe: Any, request: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The call arguments of ``request`` on the loaded ``pipe``, after the checks that need it.

    ``given`` maps flags to the values the user gave (``None``: not given); a given flag whose
    argument the pipeline does not take is refused instead of silently dropped.
    """
    from .generation import call_arguments
    from .supported_sizes import rules_for_pipe

    accepted = inspect.signature(type(pipe).__call__).parameters
    for flag, value in given.items():
        argument = FLAG_ARGUMENTS.get(flag)
        if value is not None and argument is not None and argument not in accepted:
            raise InputError(f"{flag}: {type(pipe).__name__} takes no {argument} argument; leave {flag} out.")
    rules = rules_for_pipe(model, pipe)
    if rules is not None:
        rules.check(request.height, request.width, request.num_frames if "num_frames" in accepted else None,
                    SIZE_FLAGS)
    return call_arguments(pipe, request)
