"""Checks of the Video QA tab's inputs, each failing with one ``DemoInputError`` that says what to change.

``check_video_qa_model``, ``check_clip`` and ``check_question_text`` need no model; ``check_question_words``
runs once the model's processor is loaded.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mmcache.pipelines.loader import is_vision_language
from mmcache.pipelines.toy.captions import CaptionSpec, parse_caption
from mmcache.pipelines.vlm.questions import QUESTIONS

from .model_kinds import ModelKind, check_model_kind
from .validation import SEED_RANGE, DemoInputError, stripped_text, whole_number

CLIP_SOURCES = ("caption", "video file")
MAX_QUESTION_CHARS = 500


@dataclasses.dataclass(frozen=True)
class ClipRequest:
    """Where the clip comes from: a video file, or a caption of the shapes world rendered with ``seed``."""

    video: Path | None = None
    caption: CaptionSpec | None = None
    seed: int = 0


VIDEO_QA = ModelKind("video-QA model", "a", is_vision_language,
                     "a model saved by `python -m mmcache.pipelines.vlm.train`",
                     "config.json and processor_config.json", "generates video and cannot answer questions")


def check_video_qa_model(model: str | None, known: list[str]) -> str:
    """A video-QA model: one of ``known``, or the folder of a saved one; generators are refused by name."""
    return check_model_kind(model, known, VIDEO_QA)


def check_clip(source: str | None, video: Any, caption: str | None, seed: Any) -> ClipRequest:
    """The clip the inputs name: the uploaded ``video`` when ``source`` is "video file", else the ``caption``."""
    if source not in CLIP_SOURCES:
        raise DemoInputError(f"clip must be one of {list(CLIP_SOURCES)}, got {source!r}.")
    if source == "video file":
        path = Path(str(video)) if video else None
        if path is None:
            raise DemoInputError("No clip: upload a video file, or choose 'caption' and describe the clip.")
        if not path.is_file():
            raise DemoInputError(f"The video {str(video)!r} is not a file on the server; upload the video again.")
        return ClipRequest(video=path)
    text = (caption or "").strip() if isinstance(caption, str) or caption is None else None
    if text is None:
        raise DemoInputError(f"The caption must be text, got {type(caption).__name__}.")
    if not text:
        raise DemoInputError("No clip: describe one, e.g. 'a red circle moving left on a black background', or "
                             "choose 'video file' and upload a video.")
    try:
        spec = parse_caption(text)
    except ValueError as error:
        raise DemoInputError(f"caption: {error}") from None
    return ClipRequest(caption=spec, seed=whole_number("seed", seed, *SEED_RANGE))


def check_question_text(question: Any) -> str:
    """The question, stripped; refused when it is not text, empty or too long."""
    return stripped_text("question", question,
                         f"The question is empty: choose one ({' / '.join(QUESTIONS.values())}) or type one.",
                         MAX_QUESTION_CHARS)


def check_question_words(question: str, processor: Any, model: str) -> None:
    """Every word of ``question`` is in the model's vocabulary (an unknown word would be read as ``<unk>``)."""
    unknown = processor.unknown_words(question)
    if unknown:
        raise DemoInputError(f"{model} does not know the word(s) {', '.join(map(repr, unknown))}; ask in the words it "
                             f"was trained on: {' / '.join(QUESTIONS.values())}.")
