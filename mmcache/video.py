"""Video files: browser-playable H.264 MP4 written atomically, read back, and side-by-side layouts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np


def to_uint8_frames(frames: np.ndarray) -> np.ndarray:
    """Frames as uint8 ``[T, H, W, 3]`` from float [0, 1] or uint8, with or without a time axis."""
    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(f"Expected frames shaped [T, H, W, 3], got {array.shape}.")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(array)


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: repeat the last row/column where a side is odd."""
    _, height, width, _ = frames.shape
    pad = ((0, 0), (0, height % 2), (0, width % 2), (0, 0))
    return np.pad(frames, pad, mode="edge") if any(p[1] for p in pad) else frames


def upscale(frames: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling (keeps tiny reference-model videos crisp when viewed)."""
    if factor <= 1:
        return frames
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)


def write_mp4(frames: np.ndarray, path: str | os.PathLike, fps: int = 8, quality: int = 18) -> Path:
    """Write H.264 (libx264, yuv420p, faststart) so browsers play it; atomic (temp file + rename)."""
    import imageio_ffmpeg

    video = _pad_to_even(to_uint8_frames(frames))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _, height, width, _ = video.shape
    handle, temporary = tempfile.mkstemp(suffix=".mp4", dir=path.parent, prefix=f".{path.stem}.")
    os.close(handle)
    try:
        writer = imageio_ffmpeg.write_frames(
            temporary, (width, height), fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1,
            output_params=["-crf", str(quality), "-movflags", "+faststart", "-preset", "medium"],
            ffmpeg_log_level="error",
        )
        writer.send(None)
        for frame in video:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def read_mp4(path: str | os.PathLike) -> np.ndarray:
    """Decode a video file into uint8 ``[T, H, W, 3]``."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(frame, dtype=np.uint8).reshape(height, width, 3) for frame in reader]
    if not frames:
        raise ValueError(f"{path} holds no decodable frames.")
    return np.stack(frames)


def video_codec(path: str | os.PathLike) -> str:
    """The codec name of the first video stream (e.g. ``"h264"``), read from ffmpeg's stream info."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    return str(meta.get("codec", "")).split()[0] if meta.get("codec") else ""


def _label(width: int, text: str, height: int = 14) -> np.ndarray:
    strip = np.zeros((height, width, 3), dtype=np.uint8)
    scale = 0.35
    cv2.putText(strip, text, (2, height - 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def side_by_side(left: np.ndarray, right: np.ndarray, labels: tuple[str, str] = ("baseline", "cached"),
                 gap: int = 4) -> np.ndarray:
    """Two videos next to each other with a label strip above each."""
    a, b = to_uint8_frames(left), to_uint8_frames(right)
    if a.shape != b.shape:
        raise ValueError(f"side_by_side needs equal shapes, got {a.shape} and {b.shape}.")
    frames, height, width, _ = a.shape
    spacer = np.zeros((frames, height, gap, 3), dtype=np.uint8)
    body = np.concatenate([a, spacer, b], axis=2)
    header = np.concatenate([_label(width, labels[0]), np.zeros((14, gap, 3), np.uint8), _label(width, labels[1])],
                            axis=1)
    return np.concatenate([np.broadcast_to(header, (frames, *header.shape)), body], axis=1)
