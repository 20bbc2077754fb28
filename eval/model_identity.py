"""Which weights a model name stood for when a run was made, so one output folder never mixes releases.

A bundled name such as ``toy-t2v`` keeps its name when a new release replaces its weights, so the
run identity (``run_config.json``) also records a digest of the saved pipeline folder's files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FULL_HASH_LIMIT = 64 * 2 ** 20  # bytes: larger files are identified by size, head and tail
SAMPLE = 2 ** 20


def _file_digest(path: Path) -> bytes:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as file:
        if size <= FULL_HASH_LIMIT:
            digest.update(file.read())
        else:
            digest.update(file.read(SAMPLE))
            file.seek(size - SAMPLE)
            digest.update(file.read(SAMPLE))
    return digest.digest()


def folder_digest(folder: Path) -> str:
    """A short digest of every file under ``folder`` (names and contents), in a fixed order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(_file_digest(path))
    return digest.hexdigest()[:16]


def model_weights_digest(model: str) -> str | None:
    """The digest of a bundled model or saved pipeline folder; ``None`` for a hub id (named by its id)."""
    from mmcache.pipelines.loader import ModelNotFoundError, pipeline_folder

    try:
        return folder_digest(pipeline_folder(model))
    except ModelNotFoundError:
        return None


def vlm_weights_digest(model: str) -> str | None:
    """The digest of a saved video-QA model's folder; ``None`` for ``tiny:vlm`` (the same random weights always)."""
    from mmcache.pipelines.loader import vlm_folder

    folder = vlm_folder(model)
    return None if folder is None else folder_digest(folder)
