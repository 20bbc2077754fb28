"""Image captions of the shapes world (no motion) and their train / held-out split.

An image caption names the object and the background: ``"a red circle on a black background"``. A third of
the 45 (colour, shape, background) captions never appears in training, chosen by a Latin-square rule so
that every colour, shape and background, and every pair of them, still does.
"""

from __future__ import annotations

import dataclasses
import itertools
import re

from ..toy.captions import BACKGROUNDS, COLOURS, SHAPES, CaptionSpec

TEMPLATE = "a {colour} {shape} on a {background} background"
WORDS: tuple[str, ...] = ("a", "on", "background", *COLOURS, *SHAPES, *BACKGROUNDS)
_CAPTION = re.compile(r"^\s*(?:an?\s+)?(?P<colour>\w+)\s+(?P<shape>\w+)\s+on\s+(?:an?\s+)?(?P<background>\w+)"
                      r"(?:\s+background)?\s*[.!]?\s*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """What an image caption says: the object's colour and shape, and the background."""

    colour: str
    shape: str
    background: str = "black"

    def __post_init__(self) -> None:
        CaptionSpec(self.colour, self.shape, "left", self.background)  # the same checks and messages

    @property
    def text(self) -> str:
        return TEMPLATE.format(**dataclasses.asdict(self))

    def scene(self) -> CaptionSpec:
        """The video caption of the same scene (the renderer's input; its motion does not show in one frame)."""
        return CaptionSpec(self.colour, self.shape, "left", self.background)


def parse_image_caption(text: str) -> ImageSpec:
    """The ``ImageSpec`` of a caption in the grammar; raises ``ValueError`` naming what is wrong."""
    match = _CAPTION.match(text)
    if match is None:
        raise ValueError(f"Caption {text!r} does not follow the image grammar {TEMPLATE!r}.")
    return ImageSpec(**{key: value.lower() for key, value in match.groupdict().items()})


def is_held_out(spec: ImageSpec) -> bool:
    """True for the 15 of 45 captions kept out of training: one background per (colour, shape) pair."""
    c, s, b = list(COLOURS).index(spec.colour), SHAPES.index(spec.shape), list(BACKGROUNDS).index(spec.background)
    return (c + s + b) % len(BACKGROUNDS) == 0


def all_image_specs() -> list[ImageSpec]:
    return [ImageSpec(*combo) for combo in itertools.product(COLOURS, SHAPES, BACKGROUNDS)]


def train_image_specs() -> list[ImageSpec]:
    return [spec for spec in all_image_specs() if not is_held_out(spec)]


def held_out_image_specs() -> list[ImageSpec]:
    return [spec for spec in all_image_specs() if is_held_out(spec)]


def calibration_captions(count: int) -> list[str]:
    """``count`` training captions spread evenly over the training set (never a held-out one), for offline fits."""
    specs = train_image_specs()
    return [specs[round(i * (len(specs) - 1) / max(1, count - 1))].text for i in range(max(0, count))]
