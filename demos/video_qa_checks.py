"""Checks of the Video QA tab's inputs, each failing with one ``DemoInputError`` that says what to change.

``check_video_qa_model``, ``check_clip`` and ``check_question_text`` need no model; ``check_question_words``
runs once the model's processor is loaded.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mmcache.pipelines.loader import ModelNotFoundError, is_vision_language, model_source
from mmcache.pipelines.toy.captions import CaptionSpec, parse_caption
from mmcache.pipelines.vlm.questions import QUESTIONS

from .validation import SEED_RANGE, DemoInputError, whole_number

CLIP_SOURCES = ("caption", "video file")
MAX_QUESTION_CHARS = 500


@dataclasses.dataclass(frozen=True)
class ClipRequest:
    """Where the clip comes from: a video file, or a caption of the shapes world rendered with ``seed``."""

    video: Path | None = None
    caption: CaptionSpec | None = None
    seed: int = 0


def check_video_qa_model(model: str | None, known: list[str]) -> str:
    """A video-QA model: one of ``known``, or the folder of a saved one; generators are refused by name."""
    name = (model or "").strip()
    if not name:
        raise DemoInputError("Choose a video-QA model.")
    wanted = (f"choose {' or '.join(known)}, or enter the folder of a model saved by "
              "`python -m mmcache.pipelines.vlm.train`")
    if name in known:
        return name
    if is_vision_language(name):
        model_source(name)  # a bundled one without weights: says how to get them
        return name
    try:
        source = model_source(name)
    except ModelNotFoundError:
        source = None
    if source in ("bundled", "tiny", "folder"):
        raise DemoInputError(f"{name} generates video and cannot answer questions; {wanted}.")
    if Path(name).is_dir():
        raise DemoInputError(f"{name} is a folder but not a saved video-QA model (config.json and "
                             f"processor_config.json); {wanted}.")
    raise DemoInputError(f"Unknown video-QA model {name!r}: {wanted}.")


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
    if question is not None and not isinstance(question, str):
        raise DemoInputError(f"The question must be text, got {type(question).__name__}.")
    text = (question or "").strip()
    if not text:
        raise DemoInputError(f"The question is empty: choose one ({' / '.join(QUESTIONS.values())}) or type one.")
    if len(text) > MAX_QUESTION_CHARS:
        raise DemoInputError(f"The question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}.")
    return text


def check_question_words(question: str, processor: Any, model: str) -> None:
    """Every word of ``question`` is in the model's vocabulary (an unknown word would be read as ``<unk>``)."""
    unknown = processor.unknown_words(question)
    if unknown:
        raise DemoInputError(f"{model} does not know the word(s) {', '.join(map(repr, unknown))}; ask in the words it "
                             f"was trained on: {' / '.join(QUESTIONS.values())}.")
