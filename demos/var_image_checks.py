"""Checks of the Image (VAR) tab's inputs, each failing with one ``DemoInputError`` that says what to change.

Nothing here loads a model; the caption's words are checked by the pipeline itself once it is loaded (its
``ValueError`` lists the words it knows).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mmcache.pipelines.loader import is_next_scale

from .model_kinds import ModelKind, check_model_kind
from .validation import MAX_PROMPT_CHARS, SEED_RANGE, DemoInputError, _finite_number, stripped_text, whole_number

NUM_IMAGES_RANGE = (1, 4)
GUIDANCE_RANGE = (1.0, 50.0)  # 1: no classifier-free guidance
EXAMPLE_CAPTION = "a red circle on a black background"


@dataclasses.dataclass(frozen=True)
class ImageRequest:
    """What to sample: ``num_images`` images of ``caption`` from ``seed`` at ``guidance_scale``."""

    caption: str
    seed: int
    num_images: int
    guidance_scale: float


VAR_IMAGE = ModelKind("image (VAR) model", "an", is_next_scale, "a pipeline saved by VARPipeline.save_pretrained",
                      "model_index.json naming VARPipeline", "is not a next-scale-prediction (VAR) image model",
                      ("bundled", "tiny", "vlm", "folder"))


def check_var_model(model: str | None, known: list[str]) -> str:
    """A next-scale-prediction model: one of ``known``, ``toy-var`` / ``tiny:var``, or a saved ``VARPipeline``
    folder; any other model is refused by name."""
    return check_model_kind(model, known, VAR_IMAGE)


def check_image_request(caption: Any, seed: Any, num_images: Any, guidance_scale: Any) -> ImageRequest:
    """The request the inputs describe; ``DemoInputError`` naming the control otherwise."""
    text = stripped_text("caption", caption, f"The caption is empty: describe the image, e.g. {EXAMPLE_CAPTION!r}.",
                         MAX_PROMPT_CHARS)
    low, high = GUIDANCE_RANGE
    if guidance_scale is None or guidance_scale == "":
        raise DemoInputError("guidance scale is required.")
    guidance = _finite_number("guidance scale", guidance_scale, "a number")
    if not low <= guidance <= high:
        raise DemoInputError(f"guidance scale must be from {low:g} (no guidance) to {high:g}, got {guidance:g}.")
    return ImageRequest(text, whole_number("seed", seed, *SEED_RANGE),
                        whole_number("number of images", num_images, *NUM_IMAGES_RANGE), guidance)
