"""VBench's ``temporal_flickering`` of one video file, computed the way VBench computes it.

VBench reads every frame of the file with OpenCV, takes the mean absolute difference of each pair of
consecutive frames (float32, over all pixels and channels), and scores
``(255 - mean over pairs) / 255``; a dimension score is the mean over videos. VBench applies it to
videos of static scenes (its prompts for this dimension), where any change is flicker.
"""

from __future__ import annotations

import os

import cv2
import numpy as np


def read_frames_like_vbench(path: str | os.PathLike) -> list[np.ndarray]:
    """Every frame of the file as OpenCV decodes it (BGR uint8), as VBench reads videos."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while capture.isOpened():
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"OpenCV could not decode any frame of {path}.")
    return frames


def temporal_flickering_of_frames(frames: list[np.ndarray] | np.ndarray) -> float:
    """``(255 - mean_i MAE(frame_i, frame_i+1)) / 255``; a single frame scores 1."""
    if len(frames) < 2:
        return 1.0
    # float32 throughout, as VBench: per-pair means are float32, and so is their mean.
    differences = np.array([np.mean(cv2.absdiff(np.asarray(a, np.float32), np.asarray(b, np.float32)))
                            for a, b in zip(frames[:-1], frames[1:])])
    return (255.0 - np.mean(differences).item()) / 255.0


def temporal_flickering(path: str | os.PathLike) -> float:
    """The score VBench gives the video file at ``path``."""
    return temporal_flickering_of_frames(read_frames_like_vbench(path))
