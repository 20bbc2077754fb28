"""Encode a large set of synthetic training clips once with the trained VAE.

Clips are ``--frames`` long (25 by default: 7 latent frames). Because the Wan VAE is causal, the
first 5 latent frames of a 25-frame clip are exactly the latents of its first 17 frames, so one set
serves both toy-t2v (first 17 frames) and toy-df (5-frame windows at any offset of the clip).

Output (``--out``): shards ``shard_00000.npz`` (float16 latents ``[n, C, F, h, w]`` and captions),
resumable shard by shard, and ``stats.json`` with the per-channel mean and std that become the
VAE's ``latents_mean`` / ``latents_std``; the VAE with those statistics is saved to ``out/vae``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from tqdm.auto import tqdm

from ..saving import save_component
from .configs import SIZE
from .data import make_dataset, to_model_range
from .vae_utils import encode_mean

STATS = "stats.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vae", type=Path, required=True, help="folder of the trained VAE (save_pretrained)")
    parser.add_argument("--out", type=Path, default=Path("runs/toy/latents"))
    parser.add_argument("--count", type=int, default=12000, help="number of training clips")
    parser.add_argument("--frames", type=int, default=25, help="frames per clip (1 + 4k)")
    parser.add_argument("--shard-size", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)


def shard_path(folder: Path, index: int) -> Path:
    return folder / f"shard_{index:05d}.npz"


def load_shards(folder: Path) -> tuple[np.ndarray, list[str]]:
    """All latents (float16 ``[N, C, F, h, w]``, unnormalised) and captions of a latent set."""
    paths = sorted(Path(folder).glob("shard_*.npz"))
    if not paths:
        raise FileNotFoundError(f"No latent shards in {folder}; run `python -m mmcache.pipelines.toy.train latents`.")
    latents, captions = [], []
    for path in paths:
        with np.load(path) as shard:
            latents.append(shard["latents"])
            captions += [str(c) for c in shard["captions"]]
    return np.concatenate(latents), captions


def load_stats(folder: Path) -> tuple[list[float], list[float]]:
    stats = json.loads((Path(folder) / STATS).read_text())
    return stats["mean"], stats["std"]


def encode_shard(vae: AutoencoderKLWan, seed: int, index: int, shard_size: int, frames: int, batch_size: int,
                 device: torch.device) -> tuple[np.ndarray, list[str]]:
    """Latents of clips ``index * shard_size ...`` of the training stream ``seed``."""
    first = index * shard_size
    clips, captions = make_dataset(seed, shard_size, "train", frames, SIZE, start=first)
    latents = []
    for start in range(0, shard_size, batch_size):
        video = torch.from_numpy(to_model_range(clips[start:start + batch_size])).to(device)
        latents.append(encode_mean(vae, video).float().cpu().numpy().astype(np.float16))
    return np.concatenate(latents), captions


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    vae = AutoencoderKLWan.from_pretrained(str(args.vae)).to(device).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    n_shards = -(-args.count // args.shard_size)
    for index in tqdm(range(n_shards), desc="latent shards"):
        path = shard_path(args.out, index)
        if path.is_file():  # written by an earlier, interrupted run
            continue
        latents, captions = encode_shard(vae, args.seed, index, args.shard_size, args.frames, args.batch_size, device)
        tmp = path.parent / ("partial_" + path.name)
        np.savez(tmp, latents=latents, captions=np.array(captions))
        tmp.replace(path)
    latents, _ = load_shards(args.out)
    values = latents.astype(np.float32)
    mean = values.mean(axis=(0, 2, 3, 4))
    std = values.std(axis=(0, 2, 3, 4))
    (args.out / STATS).write_text(json.dumps({"mean": mean.tolist(), "std": std.tolist(), "count": len(values)}))
    vae.register_to_config(latents_mean=[float(v) for v in mean], latents_std=[float(v) for v in std])
    save_component(vae, args.out / "vae")
    print(f"{len(values)} clips; latent mean {np.round(mean, 3)}, std {np.round(std, 3)}; VAE saved to {args.out / 'vae'}")
