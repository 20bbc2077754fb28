"""Anchors that keep a VAE fine-tune from moving what the trained denoisers rely on.

A decoder fine-tuned on real clips alone also changes how it decodes what the denoisers generate, which
lies partly off the real latents' distribution; an encoder fine-tune would move the latent space the
denoisers generate in. ``train anchors`` samples latents from a trained pipeline on *training* captions
(one ``.pt`` file: raw latents ``[N, C, F, h, w]`` and captions); :class:`DecoderAnchor` and
:class:`EncoderAnchor` are the loss terms ``train vae`` adds with them.

    python -m mmcache.pipelines.toy.train anchors --model runs/toy/df-anchor/pipeline --out runs/toy/anchors.pt
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..loader import pipeline_folder, read_defaults
from ..call_defaults import flat_call_settings
from .captions import train_specs
from .common import save_atomically
from .vae_utils import decode_unclamped, denormalise

CROP = 8  # latent px of an anchor crop (the decoder is fully convolutional)
FRAMES = 5  # latent frames of an anchor crop
CROPS_PER_STEP = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="toy-t2v, toy-df or an exported pipeline folder")
    parser.add_argument("--out", type=Path, required=True, help="the .pt file to write")
    parser.add_argument("--count", type=int, default=64, help="videos to sample, one per training caption")
    parser.add_argument("--seed", type=int, default=100, help="caption order; seed of the first video (+1 per video)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")


def load_anchors(path: Path) -> dict[str, Any]:
    """The contents of an anchors file (``latents``, ``captions``), with a clear error if it is absent."""
    if not Path(path).is_file():
        raise SystemExit(f"No anchor latents at {path}; sample them with "
                         f"`python -m mmcache.pipelines.toy.train anchors --model <pipeline> --out {path}`.")
    return torch.load(path, map_location="cpu", weights_only=False)


class DecoderAnchor:
    """MSE between the trained decoder and a frozen copy of ``reference`` on random crops of the anchor latents
    (crops drawn from ``seed`` and the step, so a resumed run sees the same)."""

    def __init__(self, path: Path, reference: torch.nn.Module, seed: int) -> None:
        self.latents = load_anchors(path)["latents"].float()
        _, _, frames, height, width = self.latents.shape
        if frames < FRAMES or min(height, width) < CROP:
            raise SystemExit(f"{path} holds latents of {frames} frames of {height}x{width}; anchor crops need "
                             f"{FRAMES} frames of {CROP}x{CROP}.")
        self.reference = copy.deepcopy(reference).eval().requires_grad_(False)
        self.seed = seed

    def batch_for(self, step: int) -> torch.Tensor:
        """The anchor crops of ``step``, ``[CROPS_PER_STEP, C, FRAMES, CROP, CROP]``."""
        rng = np.random.default_rng([self.seed, 11, step])
        count, _, frames, height, width = self.latents.shape
        crops = []
        for _ in range(CROPS_PER_STEP):
            index = int(rng.integers(count))
            t, y, x = (int(rng.integers(n - size + 1)) for n, size in ((frames, FRAMES), (height, CROP), (width, CROP)))
            crops.append(self.latents[index, :, t:t + FRAMES, y:y + CROP, x:x + CROP])
        return torch.stack(crops)

    def loss(self, decoder: torch.nn.Module, step: int, device: torch.device) -> torch.Tensor:
        z = self.batch_for(step).to(device)
        with torch.no_grad():
            target = decode_unclamped(self.reference, z)
        return (decode_unclamped(decoder, z) - target).pow(2).mean()


class EncoderAnchor:
    """MSE between the trained encoder's posterior means and those of a frozen copy of the starting encoder."""

    def __init__(self, reference: torch.nn.Module) -> None:
        self.reference = copy.deepcopy(reference).eval().requires_grad_(False)

    def loss(self, means: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.reference.encode(video).latent_dist.mean
        return (means - target).pow(2).mean()


def run(args: argparse.Namespace) -> None:
    specs = train_specs()
    if not 1 <= args.count <= len(specs):
        raise SystemExit(f"--count must be 1 to {len(specs)}, one video per training caption (got {args.count}).")
    torch.set_num_threads(max(1, args.threads))
    from diffusers import DiffusionPipeline

    folder = pipeline_folder(args.model)
    pipe = DiffusionPipeline.from_pretrained(str(folder)).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    call = flat_call_settings(read_defaults(folder))
    order = np.random.default_rng([args.seed, 13]).permutation(len(specs))[: args.count]
    config, latents, captions = pipe.vae.config, [], []
    for index, caption in enumerate(tqdm([specs[i].text for i in order], desc="anchor videos")):
        generator = torch.Generator().manual_seed(args.seed + index)
        sample = pipe(prompt=caption, generator=generator, output_type="latent", **call).frames.float().cpu()
        latents.append(denormalise(sample, config.latents_mean, config.latents_std)[0])
        captions.append(caption)
    save_atomically({"latents": torch.stack(latents), "captions": captions}, args.out)
    print(f"{len(captions)} anchor videos in {args.out}")
