"""Sample latents from a trained toy pipeline, to anchor a decoder fine-tune to the decoder it starts from.

A decoder fine-tuned on real clips alone also changes how it decodes what the denoisers generate,
which lies partly off the real latents' distribution: a longer fine-tune once cost toy-df half of
its coherent long videos by painting coloured pixels into generated backgrounds (docs/MODELS.md, "A
longer, averaged decoder run"). ``train vae --decoder-only --anchor-latents FILE`` keeps the new
decoder close to the old one on these samples while it learns the real clips (:class:`DecoderAnchor`).

Captions come from the *training* split only (evaluation uses the held-out ones), in an order fixed
by ``--seed`` (so a larger ``--count`` continues a file with the same first videos). Output: one
``.pt`` file with the VAE's raw (unnormalised) latents ``[N, C, F, h, w]``, the captions and the
settings; it is rewritten atomically after every video, and rerunning the same command continues
where it stopped.

    python -m mmcache.pipelines.toy.train anchors --model toy-df --count 24 --out runs/toy/anchors/df.pt
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
from .assemble import call_settings
from .captions import CaptionSpec, train_specs
from .common import save_atomically
from .vae_utils import decode_unclamped, denormalise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="toy-df", help="toy-t2v, toy-df or an exported pipeline folder")
    parser.add_argument("--out", type=Path, default=Path("runs/toy/anchors/df.pt"), help="the .pt file to write")
    parser.add_argument("--count", type=int, default=24, help="videos to sample (training captions)")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames per video (1 + 4k; default: the model's mmcache_defaults.json)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--seed", type=int, default=100, help="seed of the first video (then +1 per video)")
    parser.add_argument("--threads", type=int, default=2)


def load_anchors(path: Path) -> dict[str, Any]:
    """The contents of an anchors file (``latents``, ``captions``, ``settings``), with a clear error if absent."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"No anchor latents at {path}; make them with "
                                f"`python -m mmcache.pipelines.toy.train anchors --out {path}`.")
    return torch.load(path, map_location="cpu", weights_only=False)


def caption_order(seed: int) -> list[CaptionSpec]:
    """Every training caption, shuffled by ``seed``: video ``i`` of an anchors file gets caption ``i``."""
    specs = train_specs()
    return [specs[i] for i in np.random.default_rng([seed, 13]).permutation(len(specs))]


class DecoderAnchor:
    """The anchor term: MSE between the trained decoder and a frozen copy of the starting one on random
    crops of generated latents (crops drawn from ``seed`` and the step, so a resumed run sees the same)."""

    def __init__(self, paths: list[Path], reference: torch.nn.Module, crop: int, frames: int, batch: int,
                 seed: int) -> None:
        sets = [load_anchors(path)["latents"].float() for path in paths]
        if len({tuple(latents.shape[1:]) for latents in sets}) > 1:
            raise SystemExit("--anchor-latents files hold latents of different shapes "
                             f"({', '.join(str(tuple(latents.shape[1:])) for latents in sets)}): "
                             "sample them with the same --frames and model size.")
        self.latents = torch.cat(sets)
        _, _, total_frames, height, width = self.latents.shape
        if not (1 <= frames <= total_frames and 1 <= crop <= min(height, width)):
            raise SystemExit(f"--anchor-frames {frames} / --anchor-crop {crop} do not fit the anchor latents "
                             f"({total_frames} frames of {height}x{width}).")
        self.reference = copy.deepcopy(reference).eval().requires_grad_(False)
        self.crop, self.frames, self.batch, self.seed = crop, frames, batch, seed

    def batch_for(self, step: int) -> torch.Tensor:
        """The anchor crops of ``step``, ``[batch, C, frames, crop, crop]``."""
        rng = np.random.default_rng([self.seed, 11, step])
        count, _, total_frames, height, width = self.latents.shape
        crops = []
        for _ in range(self.batch):
            index = int(rng.integers(count))
            t, y, x = (int(rng.integers(n - size + 1)) for n, size in
                       ((total_frames, self.frames), (height, self.crop), (width, self.crop)))
            crops.append(self.latents[index, :, t:t + self.frames, y:y + self.crop, x:x + self.crop])
        return torch.stack(crops)

    def loss(self, decoder: torch.nn.Module, step: int, device: torch.device) -> torch.Tensor:
        z = self.batch_for(step).to(device)
        with torch.no_grad():
            target = decode_unclamped(self.reference, z)
        return (decode_unclamped(decoder, z) - target).pow(2).mean()


class EncoderAnchor:
    """The encoder's anchor term: MSE between the trained encoder's posterior means and a frozen copy of the
    starting encoder's, on the training clips. The denoisers were trained on the starting encoder's latents
    and generate in that space, so an encoder fine-tune must not move it far."""

    def __init__(self, reference: torch.nn.Module) -> None:
        self.reference = copy.deepcopy(reference).eval().requires_grad_(False)

    def loss(self, means: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.reference.encode(video).latent_dist.mean
        return (means - target).pow(2).mean()


def run(args: argparse.Namespace) -> None:
    if not 1 <= args.count <= len(train_specs()):
        raise SystemExit(f"--count must be 1 to {len(train_specs())}, one video per training caption "
                         f"(got {args.count}).")
    if args.frames is not None and (args.frames - 1) % 4:
        raise SystemExit(f"--frames must be 1 + 4k for the Wan VAE (got {args.frames}).")
    torch.set_num_threads(max(1, args.threads))
    from diffusers import DiffusionPipeline

    folder = pipeline_folder(args.model)
    pipe = DiffusionPipeline.from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    call = call_settings(read_defaults(folder))
    if args.frames is not None:
        call["num_frames"] = args.frames
    if args.steps is not None:
        call["num_inference_steps"] = args.steps
    settings = {"model": str(folder), "seed": args.seed, **call}
    specs = caption_order(args.seed)[: args.count]
    state: dict[str, Any] = {"latents": [], "captions": [], "settings": settings}
    if args.out.is_file():
        state = load_anchors(args.out)
        if state["settings"] != settings:
            raise SystemExit(f"{args.out} was sampled with other settings ({state['settings']}); "
                             "pass a new --out or the same options.")
        state["latents"] = list(state["latents"])
    config = pipe.vae.config
    for index in tqdm(range(len(state["captions"]), len(specs)), desc="anchor videos", initial=len(state["captions"]),
                      total=len(specs)):
        generator = torch.Generator().manual_seed(args.seed + index)
        latents = pipe(prompt=specs[index].text, generator=generator, output_type="latent", **call).frames
        state["latents"].append(denormalise(latents.float(), config.latents_mean, config.latents_std)[0])
        state["captions"].append(specs[index].text)
        save_atomically({**state, "latents": torch.stack(state["latents"])}, args.out)
    print(f"{len(state['captions'])} anchor videos in {args.out}")
