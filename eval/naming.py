"""Video file names in VBench's convention, ``{prompt}-{index}.mp4``, made safe for any prompt.

VBench names a sample ``f"{prompt}-{index}.mp4"`` with the prompt verbatim and ``index`` the
sample number of that prompt (0..4); it does not shorten names. Here the index is the seed's
position in ``--seeds``. A prompt is used verbatim when it can be a file name; otherwise
``/``, ``\\`` and control characters become ``_``, and a name longer than 255 bytes (the usual
file-name limit) is cut and ends with ``~`` and 8 hex digits of the prompt's hash. Prompts that
would collide get the hash too. The real prompts are handed to VBench in a prompt file, so a
changed name never changes what VBench evaluates.
"""

from __future__ import annotations

import re

from .labels import short_hash

MAX_NAME_BYTES = 255
UNSAFE_CHARACTERS = re.compile(r"[/\\\x00-\x1f\x7f]")
SUFFIX_ROOM = len("-9999.mp4")


def _cut_to_bytes(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def prompt_stem(prompt: str, force_hash: bool = False) -> str:
    """The ``{prompt}`` part of the video name for ``prompt``."""
    stem = UNSAFE_CHARACTERS.sub("_", prompt)
    if stem in (".", ".."):
        stem = stem.replace(".", "_")
    needs_hash = force_hash or stem != prompt or len(stem.encode("utf-8")) > MAX_NAME_BYTES - SUFFIX_ROOM
    if not needs_hash:
        return stem
    tail = f"~{short_hash(prompt)}"
    return _cut_to_bytes(stem, MAX_NAME_BYTES - SUFFIX_ROOM - len(tail)) + tail


def prompt_stems(prompts: list[str] | tuple[str, ...]) -> list[str]:
    """One distinct stem per prompt (prompts whose safe names would collide get their hash)."""
    stems = [prompt_stem(prompt) for prompt in prompts]
    seen: dict[str, int] = {}
    for stem in stems:
        seen[stem.lower()] = seen.get(stem.lower(), 0) + 1
    return [prompt_stem(prompt, force_hash=True) if seen[stem.lower()] > 1 else stem
            for prompt, stem in zip(prompts, stems)]


def video_name(stem: str, index: int) -> str:
    return f"{stem}-{index}.mp4"
