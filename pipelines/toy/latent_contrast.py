"""How much structure each background's clips carry in the normalised latents the denoisers see.

    python -m mmcache.pipelines.toy.latent_contrast --latents runs/toy/latents-enc1 [--out contrast.json]

Per background: ``within_clip_variance``, the mean squared deviation of each clip's latents from the
clip's own per-channel mean (the object, its motion and the background's jitter: what a denoiser has to
draw, against noise of variance 1), ``mean_square`` and ``channel_means`` (where the flat background
sits; the VAE's per-channel normalisation puts a background near the data mean near 0). Per
(background, colour): ``object_peak``, the object's peak deviation from the frame's background
(``object_weights.background_deviation``), averaged over latent frames and clips.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mmcache.files import atomic_write_json

from .captions import parse_caption
from .latent_set import LatentSet
from .object_weights import background_deviation


def within_clip_variance(latents: torch.Tensor) -> torch.Tensor:
    """Per clip of ``[N, C, F, h, w]``: the mean squared deviation from the clip's own per-channel mean."""
    return (latents - latents.mean(dim=(2, 3, 4), keepdim=True)).pow(2).mean(dim=(1, 2, 3, 4))


def latent_contrast(latents: torch.Tensor, captions: Sequence[str]) -> dict[str, Any]:
    """The statistics above for normalised latents ``[N, C, F, h, w]`` and their captions."""
    if len(captions) != latents.shape[0]:
        raise ValueError(f"{latents.shape[0]} clips but {len(captions)} captions.")
    specs = [parse_caption(caption) for caption in captions]
    within = within_clip_variance(latents)
    peak = background_deviation(latents).flatten(2).max(dim=2).values.mean(dim=1)
    rows: dict[str, list[int]] = defaultdict(list)
    pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, spec in enumerate(specs):
        rows[spec.background].append(index)
        pairs[(spec.background, spec.colour)].append(index)
    backgrounds = {}
    for background, indices in sorted(rows.items()):
        clips = latents[indices]
        backgrounds[background] = {
            "clips": len(indices),
            "within_clip_variance": round(float(within[indices].mean()), 4),
            "mean_square": round(float(clips.pow(2).mean()), 4),
            "channel_means": [round(float(v), 3) for v in clips.mean(dim=(0, 2, 3, 4))],
            "object_peak": {colour: round(float(peak[pairs[(background, colour)]].mean()), 3)
                            for (bg, colour) in sorted(pairs) if bg == background},
        }
    return backgrounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latents", type=Path, required=True, help="folder written by `train latents`")
    parser.add_argument("--out", type=Path, default=None, help="also write the result here as JSON")
    args = parser.parse_args()
    try:
        data = LatentSet.load(args.latents)
    except FileNotFoundError as error:
        parser.error(str(error))
    result = latent_contrast(data.latents, data.captions)
    for background, row in result.items():
        print(background, row)
    if args.out is not None:
        print(f"written: {atomic_write_json(args.out, result)}")


if __name__ == "__main__":
    main()
