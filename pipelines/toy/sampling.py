"""Generating videos with the toy pipelines and scoring them with the detector."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .captions import CaptionSpec
from .detector import keeps_first_segment, score_segments, score_video


def generate_frames(pipe: Any, prompt: str, seed: int, **call: Any) -> np.ndarray:
    """One video as uint8 ``[T, H, W, 3]`` (CPU generator seeded with ``seed``)."""
    pipe.set_progress_bar_config(disable=True)
    output = pipe(prompt=prompt, generator=torch.Generator().manual_seed(int(seed)), output_type="np", **call)
    return (np.clip(np.asarray(output.frames[0]), 0.0, 1.0) * 255.0).round().astype(np.uint8)


def adherence(pipe: Any, specs: Sequence[CaptionSpec], seed: int = 0, **call: Any) -> dict[str, float]:
    """Fractions of videos with the right colour, direction and shape (shape over judged videos)."""
    colour = direction = both = shape_right = shape_judged = 0
    for index, spec in enumerate(specs):
        score = score_video(generate_frames(pipe, spec.text, seed + index, **call), spec)
        colour += score.colour_ok
        direction += score.direction_ok
        both += score.colour_ok and score.direction_ok
        if score.shape_ok is not None:
            shape_judged += 1
            shape_right += score.shape_ok
    n = max(1, len(specs))
    return {"colour": colour / n, "direction": direction / n, "colour_and_direction": both / n,
            "shape": shape_right / max(1, shape_judged), "n": len(specs)}


def long_video_coherence(pipe: Any, specs: Sequence[CaptionSpec], seed: int = 0, window: int = 17,
                         **call: Any) -> dict[str, Any]:
    """For long videos, the fraction whose every ``window``-frame segment keeps the caption's colour and direction
    (``coherent``), and the fraction whose segments all keep the first segment's colour and motion, whatever the
    caption said (``self_consistent``: what the continuation adds, apart from how the first segment follows the
    caption). ``videos`` lists each video's caption and what the detector saw per window ("red left");
    ``coherent_by_background`` maps each background to [coherent videos, videos]."""
    coherent = colour = direction = consistent = 0
    videos = []
    by_background: dict[str, list[int]] = {}
    for index, spec in enumerate(specs):
        frames = generate_frames(pipe, spec.text, seed + index, **call)
        segments = score_segments(frames, spec, length=window, stride=window // 2)
        colour += all(s.colour_ok for s in segments)
        direction += all(s.direction_ok for s in segments)
        kept = all(s.colour_ok and s.direction_ok for s in segments)
        coherent += kept
        counts = by_background.setdefault(spec.background, [0, 0])
        counts[0] += kept
        counts[1] += 1
        consistent += keeps_first_segment(segments)
        videos.append({"caption": spec.text, "coherent": kept,
                       "windows": [f"{s.details['dominant_colour']} {s.details['direction']}" for s in segments]})
    n = max(1, len(specs))
    return {"coherent": coherent / n, "colour_all_segments": colour / n, "direction_all_segments": direction / n,
            "self_consistent": consistent / n, "n": len(specs), "coherent_by_background": by_background,
            "videos": videos}
