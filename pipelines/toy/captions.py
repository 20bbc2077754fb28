"""The caption grammar of the shapes world and its split: a fixed quarter of the (colour, shape, motion)
triplets never appears in training, under any background, to measure adherence on unseen combinations."""

from __future__ import annotations

import dataclasses
import itertools
import re

COLOURS: dict[str, tuple[int, int, int]] = {"red": (225, 35, 35), "yellow": (235, 215, 30), "green": (30, 190, 60),
                                             "blue": (40, 80, 235), "purple": (165, 55, 220)}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
# Unit step in image coordinates (x right, y down).
MOTIONS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {"black": (0, 0, 0), "gray": (110, 110, 110), "white": (235, 235, 235)}
TEMPLATE = "a {colour} {shape} moving {motion} on a {background} background"
_CAPTION = re.compile(r"^\s*(?:an?\s+)?(?P<colour>\w+)\s+(?P<shape>\w+)\s+moving\s+(?P<motion>\w+)"
                      r"(?:\s+on\s+(?:an?\s+)?(?P<background>\w+)(?:\s+background)?)?\s*[.!]?\s*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class CaptionSpec:
    """What a caption says: one object's colour, shape and motion, and the background."""

    colour: str
    shape: str
    motion: str
    background: str = "black"

    def __post_init__(self) -> None:
        for value, options, what in ((self.colour, COLOURS, "colour"), (self.shape, SHAPES, "shape"),
                                     (self.motion, MOTIONS, "motion"), (self.background, BACKGROUNDS, "background")):
            if value not in options:
                raise ValueError(f"Unknown {what} {value!r}; choose one of {sorted(options)}.")

    @property
    def text(self) -> str:
        return TEMPLATE.format(**dataclasses.asdict(self))


def vocabulary_words() -> list[str]:
    """Every word the grammar can produce, in a fixed order."""
    return list(dict.fromkeys(["a", "moving", "on", "background", *COLOURS, *SHAPES, *MOTIONS, *BACKGROUNDS]))


def parse_caption(text: str) -> CaptionSpec:
    """The spec of a caption (background optional, black by default; case and a final stop ignored)."""
    match = _CAPTION.match(text)
    if match is None:
        raise ValueError(f"Caption {text!r} does not follow the grammar {TEMPLATE!r}.")
    return CaptionSpec(**{key: (value or "black").lower() for key, value in match.groupdict().items()})


def is_held_out(spec: CaptionSpec) -> bool:
    """The 15 of 60 triplets kept out of training (a Latin square: every word pair still occurs in training)."""
    return (list(COLOURS).index(spec.colour) + SHAPES.index(spec.shape) + list(MOTIONS).index(spec.motion)) % 4 == 0


def all_specs() -> list[CaptionSpec]:
    """Every caption of the grammar (colour × shape × motion × background)."""
    return [CaptionSpec(*combo) for combo in itertools.product(COLOURS, SHAPES, MOTIONS, BACKGROUNDS)]


def train_specs() -> list[CaptionSpec]:
    return [spec for spec in all_specs() if not is_held_out(spec)]


def held_out_specs() -> list[CaptionSpec]:
    return [spec for spec in all_specs() if is_held_out(spec)]

