"""The per-(image, method) files of ``mmcache eval --task image``: a PNG and a record beside it.

    OUT/images/{method}/{image}-{seed index}.png   the image (image: 4 digits, the held-out image's index)
    OUT/items/{method}/{image}-{seed index}.json   ``schemas.ImageRecord``

The PNG is written first, then the record, each atomically, so a record on disk is finished work. A
rerun reuses a record only when it is valid, made for that image (index, seed, caption) and method,
with the method's current fingerprint, and its PNG decodes to the pixels the record names; an invalid
record or a missing or altered PNG is reported in one notice and generated again.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from mmcache.files import atomic_write_bytes, atomic_write_json

from .calibrated_method import CalibratedMethod
from .schemas import ImageRecord
from .store import ResultStore
from .validated_files import InvalidFileError, as_dict, read_validated

RECORD_SCHEMA = 1


@dataclasses.dataclass(frozen=True)
class ImageItem:
    """One held-out image: its index, the index of its base seed in ``--seeds``, caption and generator seed."""

    image: int
    seed_index: int
    caption: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.image:04d}-{self.seed_index}"


@dataclasses.dataclass
class StoredImage:
    """A finished (image, method): its record and its pixels (uint8 ``[H, W, 3]``)."""

    record: dict[str, Any]
    pixels: np.ndarray


def record_path(store: ResultStore, label: str, item: ImageItem) -> Path:
    return store.root / "items" / label / f"{item.name}.json"


def image_path(store: ResultStore, label: str, item: ImageItem) -> Path:
    return store.root / "images" / label / f"{item.name}.png"


def pixels_digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def _mismatch(record: dict[str, Any], label: str, item: ImageItem, file: str) -> str | None:
    """Which field says the record was made for another place, or ``None``."""
    expected = {"method": label, "image": item.image, "seed_index": item.seed_index, "seed": item.seed,
                "caption": item.caption, "file": file}
    for field, value in expected.items():
        if record[field] != value:
            return f"field '{field}': expected {value!r} (this file's place), got {record[field]!r}"
    return None


def _read_pixels(path: Path, record: dict[str, Any]) -> tuple[np.ndarray | None, str | None]:
    """The PNG's pixels, or why they cannot be used (missing, undecodable, other pixels than recorded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, UnidentifiedImageError, ValueError):
        return None, "cannot be decoded"
    if list(pixels.shape) != record["image_shape"] or pixels_digest(pixels) != record["pixels_sha256"]:
        return None, "holds other pixels than its record"
    return pixels, None


def current_image(store: ResultStore, method: CalibratedMethod, item: ImageItem) -> StoredImage | None:
    """The finished image of ``method`` on ``item`` if it can be reused (see the module docstring); else ``None``."""
    path = record_path(store, method.label, item)
    if not path.exists():
        return None
    png = image_path(store, method.label, item)
    try:
        record = as_dict(read_validated(path, ImageRecord))
        problem = _mismatch(record, method.label, item, store.relative(png))
        if problem is not None:
            raise InvalidFileError(f"{path} is invalid: {problem}.")
    except InvalidFileError as error:
        store.notice(f"{error} It will be generated again.")
        return None
    if record["fingerprint"] != method.fingerprint:
        return None
    pixels, problem = _read_pixels(png, record)
    if pixels is None:
        store.notice(f"{png} {problem}; it will be generated again.")
        return None
    return StoredImage(record, pixels)


def _png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image(store: ResultStore, method: CalibratedMethod, item: ImageItem, pixels: np.ndarray, seconds: float,
                stats: dict[str, Any], plain_seconds: float, colour_ok: bool, shape_ok: bool | None) -> StoredImage:
    """Store ``method``'s image of ``item`` (PNG, then record) with its time, the plain pipeline's time of this
    loop, its adherence and its ``ScaleKVStats`` dict (``{}`` for the plain pipeline)."""
    png = image_path(store, method.label, item)
    atomic_write_bytes(png, _png_bytes(pixels))
    record = {"schema": RECORD_SCHEMA, "task": "image", "method": method.label, "fingerprint": method.fingerprint,
              **dataclasses.asdict(item), "file": store.relative(png), "image_shape": list(pixels.shape),
              "pixels_sha256": pixels_digest(pixels), "seconds": seconds, "plain_seconds": plain_seconds,
              "colour_ok": colour_ok, "shape_ok": shape_ok, "kv_bytes_peak": stats.get("kv_bytes_peak"),
              "kv_bytes_held": stats.get("kv_bytes_held"), "attention_flops": stats.get("attention_flops"),
              "ratios": stats.get("ratios"),
              "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(record_path(store, method.label, item), record)
    return StoredImage(record, pixels)
