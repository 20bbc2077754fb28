"""Is a written video still what its record says: present, decodable, with every frame at the recorded size?

A video can be lost or damaged after its record was written (a full disk, a copy cut short, a
file emptied by hand); such an item is not finished and is generated again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2


def _frame_count(file: Path) -> int | None:
    """Frames in the file's video stream, counted by ffmpeg packet by packet (a cut file has fewer)."""
    import imageio_ffmpeg

    try:
        return int(imageio_ffmpeg.count_frames_and_secs(str(file))[0])
    except (RuntimeError, OSError, ValueError, IndexError):
        return None


def video_problem(path: str | os.PathLike, frames_shape: Sequence[int], size: int | None = None) -> str | None:
    """Why the video at ``path`` does not hold ``frames_shape`` (``[T, H, W, 3]``), or ``None`` when it does.

    With the file's recorded ``size`` (bytes), a file of that size is trusted without decoding
    (cheap on reruns of large evaluations). Otherwise ffmpeg counts the stored frames (a truncated
    file has fewer) and OpenCV decodes the first one and reads the size; sides are compared after
    the even-size padding H.264 needs.
    """
    file = Path(path)
    if not file.is_file():
        return "is missing"
    actual = file.stat().st_size
    if actual == 0:
        return "is empty (0 bytes)"
    if size is not None:
        return None if actual == size else f"has {actual} bytes, its record says {size} (cut short or replaced?)"
    frames, height, width = (int(value) for value in frames_shape[:3])
    count = _frame_count(file)
    if count is None:
        return "cannot be decoded"
    if count < frames:
        return f"holds {count} frames, its record says {frames} (truncated?)"
    capture = cv2.VideoCapture(str(file))
    try:
        ok, frame = capture.read()
        if not ok:
            return "holds no decodable frame"
        expected = (height + height % 2, width + width % 2)
        if frame.shape[:2] != expected:
            return f"is {frame.shape[1]}x{frame.shape[0]}, its record says {width}x{height}"
        return None
    finally:
        capture.release()
