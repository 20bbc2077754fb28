"""The per-(image, method) files of ``mmcache eval --task image``: a PNG and a record beside it.

    OUT/images/{method}/{image}-{seed index}.png   the image (image: 4 digits, the held-out image's index)
    OUT/items/{method}/{image}-{seed index}.json   ``schemas.ImageRecord`` (``ImageFailedRecord``: no PNG)

The PNG is written first, then the record, so a done record on disk is finished work. A record is
placed by the image's index, seed index, seed and caption (and, when done, its PNG's path); reading and
writing follow ``plain_task_records``. A done record is reused only when its PNG decodes to the pixels
the record names; a missing or altered PNG is reported in one notice and generated again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from mmcache.files import atomic_write_bytes

from .calibrated_method import CalibratedMethod
from .plain_task_records import reusable_record, write_failure, write_record
from .schemas import ImageFailedRecord, ImageRecord
from .store import ResultStore

TASK = "image"


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
    """A finished (image, method): its record and its pixels (uint8 ``[H, W, 3]``; ``None``: a failed record)."""

    record: dict[str, Any]
    pixels: np.ndarray | None


def record_path(store: ResultStore, label: str, item: ImageItem) -> Path:
    return store.root / "items" / label / f"{item.name}.json"


def image_path(store: ResultStore, label: str, item: ImageItem) -> Path:
    return store.root / "images" / label / f"{item.name}.png"


def pixels_digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


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


def _place(item: ImageItem) -> dict[str, Any]:
    return {"image": item.image, "seed_index": item.seed_index, "seed": item.seed, "caption": item.caption}


def current_image(store: ResultStore, method: CalibratedMethod, item: ImageItem,
                  retry_failed: bool = False) -> StoredImage | None:
    """The finished (or failed) image of ``method`` on ``item`` if it can be reused (see the module docstring); else
    ``None``."""
    png = image_path(store, method.label, item)
    file = store.relative(png)

    def other_file(record: dict[str, Any]) -> str | None:
        return None if record["file"] == file else \
            f"field 'file': expected {file!r} (this file's place), got {record['file']!r}"

    record = reusable_record(store, record_path(store, method.label, item), (ImageRecord, ImageFailedRecord), method,
                             _place(item), "generated", retry_failed, other_file)
    if record is None or record["status"] == "failed":
        return None if record is None else StoredImage(record, None)
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
    record = write_record(record_path(store, method.label, item), TASK, method, _place(item), {
        "file": store.relative(png), "image_shape": list(pixels.shape), "pixels_sha256": pixels_digest(pixels),
        "seconds": seconds, "plain_seconds": plain_seconds, "colour_ok": colour_ok, "shape_ok": shape_ok,
        **{key: stats.get(key) for key in ("kv_bytes_peak", "kv_bytes_held", "attention_flops", "ratios")}})
    return StoredImage(record, pixels)


def write_failed(store: ResultStore, method: CalibratedMethod, item: ImageItem,
                 error: BaseException | str) -> StoredImage:
    """Store why ``method`` could not make ``item`` (no PNG)."""
    return StoredImage(write_failure(record_path(store, method.label, item), TASK, method, _place(item), error), None)
