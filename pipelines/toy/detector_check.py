"""Accuracy of the adherence checker on ground-truth clips, and its rejection of shuffled captions.

    python -m mmcache.pipelines.toy.detector_check --clips 300 --size 64
"""

from __future__ import annotations

import argparse

import numpy as np

from .captions import parse_caption
from .data import make_dataset
from .detector import score_video


def detector_check(clips: int, size: int, frames: int = 17, seed: int = 5) -> dict[str, float]:
    """Fractions right on true captions, and the fraction of shuffled captions scored wrong.

    A shuffled caption counts only when it differs from the truth in colour or motion (the two
    things the checker must get right; shape is judged only where feasible).
    """
    videos, captions = make_dataset(seed, clips, "all", frames, size)
    scores = [score_video(video, caption) for video, caption in zip(videos, captions)]
    order = np.random.default_rng(seed).permutation(len(captions))
    rejected = checked = 0
    for index, other in enumerate(order):
        truth, wrong = parse_caption(captions[index]), parse_caption(captions[other])
        if (truth.colour, truth.motion) == (wrong.colour, wrong.motion):
            continue
        checked += 1
        rejected += not score_video(videos[index], captions[other]).ok
    return {"colour": float(np.mean([s.colour_ok for s in scores])),
            "direction": float(np.mean([s.direction_ok for s in scores])),
            "shape": float(np.mean([s.shape_ok is True for s in scores])),
            "shuffled_rejected": rejected / max(1, checked), "shuffled_checked": checked, "clips": clips}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--size", type=int, default=64, help="frame size in px (>= 32)")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    print(detector_check(args.clips, args.size, args.frames, args.seed))


if __name__ == "__main__":
    main()
