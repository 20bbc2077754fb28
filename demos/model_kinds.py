"""The model box of a tab that takes one kind of model (video QA, VAR images): what it accepts and how it refuses.

A tab accepts the models it lists, any name or folder of its kind (``is_kind``; a bundled one without weights is
refused by the loader with how to get them) and refuses everything else with one ``DemoInputError`` naming the
model: another kind of model by what it is, a folder by what it lacks, anything else as unknown.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from mmcache.pipelines.loader import ModelNotFoundError, model_source

from .validation import DemoInputError


@dataclasses.dataclass(frozen=True)
class ModelKind:
    """What one tab takes: ``label`` (e.g. "video-QA model") and how to tell and describe models of that kind."""

    label: str
    article: str  # "a" or "an", before ``label``
    is_kind: Callable[[str], bool]
    saved_by: str  # how a folder of this kind is made, e.g. "a model saved by `...`"
    folder_files: str  # what such a folder holds
    refused: str  # why a model of another kind is refused, after its name
    other_sources: tuple[str, ...] = ("bundled", "tiny", "folder")  # ``model_source`` values of other kinds


def check_model_kind(model: str | None, known: list[str], kind: ModelKind) -> str:
    """``model`` stripped, when it is one of ``known`` or of ``kind``; ``DemoInputError`` otherwise."""
    name = (model or "").strip()
    if not name:
        raise DemoInputError(f"Choose {kind.article} {kind.label}.")
    wanted = f"choose {' or '.join(known)}, or enter the folder of {kind.saved_by}"
    if name in known:
        return name
    if kind.is_kind(name):
        model_source(name)  # a bundled one without weights: says how to get them
        return name
    try:
        source = model_source(name)
    except ModelNotFoundError:
        source = None
    if source in kind.other_sources:
        raise DemoInputError(f"{name} {kind.refused}; {wanted}.")
    if Path(name).is_dir():
        raise DemoInputError(f"{name} is a folder but not a saved {kind.label} ({kind.folder_files}); {wanted}.")
    raise DemoInputError(f"Unknown {kind.label} {name!r}: {wanted}.")
