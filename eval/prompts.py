"""Prompt lists: the built-in set for the reference models, VBench-style text files, JSON lists."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .errors import EvalError

BUILTIN = "builtin"

# Captions in the reference models' grammar (mmcache.pipelines.toy.captions), which the toy detector
# scores: every colour, shape, motion and background, two of them (red circle left, yellow circle
# down) from the triplets held out of training.
BUILTIN_PROMPTS = (
    "a red circle moving left on a black background",
    "a blue square moving right on a black background",
    "a green triangle moving up on a gray background",
    "a yellow circle moving down on a black background",
    "a purple square moving left on a white background",
    "a red triangle moving right on a gray background",
    "a blue circle moving up on a black background",
    "a green square moving down on a white background",
)


@dataclasses.dataclass(frozen=True)
class PromptSet:
    prompts: tuple[str, ...]
    source: str
    dropped_duplicates: int = 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise EvalError(f"Prompt file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8.") from None
    except OSError as error:
        raise EvalError(f"Prompt file {path} cannot be read: {error.strerror or error}.") from None


def _from_json(path: Path) -> list[str]:
    try:
        data = json.loads(_read(path))
    except json.JSONDecodeError as error:
        raise EvalError(f"Prompt file {path} is not valid JSON: {error}.") from error
    if not isinstance(data, list):
        raise EvalError(f"Prompt file {path} must hold a JSON list of prompts (strings, or objects with "
                        "\"prompt_en\" or \"prompt\" as in VBench_full_info.json).")
    prompts = []
    for entry in data:
        text = entry.get("prompt_en", entry.get("prompt")) if isinstance(entry, dict) else entry
        if not isinstance(text, str):
            raise EvalError(f"Prompt file {path}: entry {entry!r} is not a prompt string.")
        prompts.append(text)
    return prompts


def load_prompts(source: str, limit: int | None = None) -> PromptSet:
    """Prompts from ``builtin``, a ``.json`` list, or a text file with one prompt per line (VBench's format).

    Blank lines are skipped, surrounding whitespace stripped, repeated prompts kept once (in order).
    """
    if source == BUILTIN:
        raw = list(BUILTIN_PROMPTS)
    else:
        path = Path(source)
        if path.is_dir():
            raise EvalError(f"Prompt file {source!r} is a folder; give a .txt or .json prompt list (or 'builtin').")
        if not path.is_file():
            raise EvalError(f"Prompt file {source!r} does not exist (use 'builtin' or a .txt/.json prompt list).")
        raw = _from_json(path) if path.suffix.lower() == ".json" else _read(path).splitlines()
    stripped = [prompt.strip() for prompt in raw if prompt.strip()]
    unique = list(dict.fromkeys(stripped))
    if limit is not None:
        unique = unique[:limit]
    if not unique:
        raise EvalError(f"No prompts in {source!r}.")
    return PromptSet(tuple(unique), source, len(stripped) - len(dict.fromkeys(stripped)))
