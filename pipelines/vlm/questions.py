"""The four questions toy-vlm answers about a clip of the shapes world, and their one-word answers."""

from __future__ import annotations

import re

from ..toy.captions import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, CaptionSpec

# question kind -> the question, in the words the model was trained on
QUESTIONS: dict[str, str] = {
    "colour": "what colour is the shape?",
    "shape": "what shape is it?",
    "direction": "which way does it move?",
    "background": "what colour is the background?",
}
KINDS: tuple[str, ...] = tuple(QUESTIONS)
# how often training asks each kind: the direction, the hardest to read off the frames, twice as often
TRAINING_SHARE: dict[str, float] = {"colour": 0.2, "shape": 0.2, "direction": 0.4, "background": 0.2}
SPELLINGS = {"color": "colour"}  # accepted in questions, read as the trained word


def answer(spec: CaptionSpec, kind: str) -> str:
    """The one-word answer to question ``kind`` about a clip of ``spec``."""
    values = {"colour": spec.colour, "shape": spec.shape, "direction": spec.motion, "background": spec.background}
    if kind not in values:
        raise ValueError(f"Unknown question kind {kind!r}; choose one of {list(KINDS)}.")
    return values[kind]


def answer_words() -> list[str]:
    """Every answer the model can give, in a fixed order."""
    return list(dict.fromkeys([*COLOURS, *SHAPES, *MOTIONS, *BACKGROUNDS]))


def question_words() -> list[str]:
    """The words of the questions, in order of first use."""
    return list(dict.fromkeys(word for text in QUESTIONS.values() for word in re.findall(r"[a-z]+", text)))
