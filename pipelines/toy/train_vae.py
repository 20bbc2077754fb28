"""The VAE stages: train the toy AutoencoderKLWan on synthetic clips or fine-tune an exported one (``vae``),
encode the training clips once with it (``latents``), sample latents that anchor a fine-tune (``anchors``)."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKLWan, DiffusionPipeline
from tqdm.auto import tqdm

from .. import training
from ..call_defaults import flat_call_settings
from ..loader import pipeline_folder, read_defaults
from ..saving import save_component
from .captions import train_specs
from .configs import NUM_FRAMES, SIZE, Z_DIM, build_vae
from .data import EVAL_SEED, make_clip, make_dataset, to_model_range

KL_WEIGHT = 3e-5
INITIAL_LOGVAR = -6.0  # posterior std 0.05 at the start: a random-scale latent would drown in unit noise
CROP, FRAMES, CROPS_PER_STEP = 8, 5, 2  # an anchor crop's latent px and frames (the decoder is convolutional)


def decode_unclamped(vae: AutoencoderKLWan, z: torch.Tensor) -> torch.Tensor:
    """``vae.decode`` without the final clamp (every pixel gets a gradient), frame by frame like ``_decode``."""
    vae.clear_cache()
    x, outputs = vae.post_quant_conv(z), []
    for index in range(z.shape[2]):
        vae._conv_idx = [0]
        outputs.append(vae.decoder(x[:, :, index:index + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx,
                                   first_chunk=index == 0))
    vae.clear_cache()
    return torch.cat(outputs, dim=2)


@torch.no_grad()
def reconstruction_psnr(vae: AutoencoderKLWan, frames: np.ndarray, device: torch.device | str = "cpu",
                        batch_size: int = 4) -> list[float]:
    """PSNR (dB) of encode (posterior mean) → decode for each uint8 clip ``[N, T, H, W, 3]``."""
    scores = []
    for start in range(0, len(frames), batch_size):
        chunk = frames[start:start + batch_size]
        decoded = vae.decode(vae.encode(torch.from_numpy(to_model_range(chunk)).to(device)).latent_dist.mode()).sample
        decoded = np.moveaxis(((decoded.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy(), 1, -1)
        for a, b in zip(chunk, decoded):
            mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
            scores.append(float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse)))
    return scores


def load_anchors(path: Path) -> dict[str, Any]:
    """The contents of an anchors file (``latents``, ``captions``), with a clear error if it is absent."""
    if not Path(path).is_file():
        raise SystemExit(f"No anchor latents at {path}; sample them with "
                         f"`python -m mmcache.pipelines.toy.train anchors --model <pipeline> --out {path}`.")
    return torch.load(path, map_location="cpu", weights_only=False)


def frozen_copy(vae: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(vae).eval().requires_grad_(False)


def encoder_anchor_mse(reference: AutoencoderKLWan, means: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """MSE between the trained encoder's posterior ``means`` and those of ``reference``, the starting encoder."""
    with torch.no_grad():
        target = reference.encode(video).latent_dist.mean
    return (means - target).pow(2).mean()


class DecoderAnchor:
    """MSE between the trained decoder and a frozen copy of ``reference`` on random crops of the anchor latents
    (crops drawn from ``seed`` and the step, so a resumed run sees the same)."""

    def __init__(self, path: Path, reference: torch.nn.Module, seed: int) -> None:
        self.latents = load_anchors(path)["latents"].float()
        _, _, frames, height, width = self.latents.shape
        if frames < FRAMES or min(height, width) < CROP:
            raise SystemExit(f"{path} holds latents of {frames} frames of {height}x{width}; anchor crops need "
                             f"{FRAMES} frames of {CROP}x{CROP}.")
        self.reference, self.seed = frozen_copy(reference), seed

    def batch_for(self, step: int) -> torch.Tensor:
        """The anchor crops of ``step``, ``[CROPS_PER_STEP, C, FRAMES, CROP, CROP]``."""
        rng, crops = np.random.default_rng([self.seed, 11, step]), []
        count, _, frames, height, width = self.latents.shape
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    training.add_run_arguments(parser, steps=4000, batch_size=8, lr=5e-4, out="runs/toy/vae")
    parser.add_argument("--crop", type=int, default=24, help="spatial crop of the training clips (px)")
    parser.add_argument("--clip-frames", type=int, nargs="+", default=[9, 17, 25],
                        help="frames per training clip (1 + 4k), cycled step by step")
    parser.add_argument("--warmup", type=int, default=200, help="learning-rate warm-up steps")
    parser.add_argument("--l1-weight", type=float, default=0.1, help="weight of the L1 term (0: the MSE alone)")
    parser.add_argument("--eval-every", type=int, default=500, help="held-out PSNR every this many steps")
    parser.add_argument("--eval-clips", type=int, default=16)
    parser.add_argument("--init", type=Path, default=None, help="fine-tune this exported VAE folder")
    parser.add_argument("--decoder-only", action="store_true", help="fine-tune the decoder alone (needs --init)")
    parser.add_argument("--encoder-anchor-weight", type=float, default=0.0, help="fine-tune the encoder too, "
                                                                                "anchored to its starting means")
    parser.add_argument("--anchor-latents", type=Path, default=None, help="`train anchors` file whose decodes to keep")
    parser.add_argument("--anchor-reference", type=Path, default=None, help="decoder to keep (default: --init's)")
    parser.add_argument("--anchor-weight", type=float, default=1.0, help="weight of the decoder anchor's MSE")
    training.add_ema_argument(parser, 0.0)


def check_arguments(args: argparse.Namespace) -> bool:
    """One clear error for each combination of options that cannot work; True for a fine-tune on posterior means."""
    if min(args.l1_weight, args.anchor_weight, args.encoder_anchor_weight) < 0:
        raise SystemExit("--l1-weight, --anchor-weight and --encoder-anchor-weight must be 0 or more.")
    fine_tune = args.decoder_only or args.encoder_anchor_weight > 0
    if fine_tune and args.init is None:
        raise SystemExit("--decoder-only and --encoder-anchor-weight fine-tune an exported VAE: pass --init FOLDER.")
    if args.decoder_only and args.encoder_anchor_weight > 0:
        raise SystemExit("--encoder-anchor-weight trains the encoder: leave out --decoder-only.")
    if args.anchor_latents is not None and not fine_tune:
        raise SystemExit("--anchor-latents anchors a fine-tune: add --decoder-only or --encoder-anchor-weight W.")
    if args.anchor_reference is not None and args.anchor_latents is None:
        raise SystemExit("--anchor-reference names the decoder an anchor keeps: add --anchor-latents FILE.")
    return fine_tune


def training_batch(seed: int, step: int, batch_size: int, frames: int, crop: int) -> torch.Tensor:
    """Batch ``step``: rolled and cropped training clips, ``[B, 3, frames, crop, crop]`` in [-1, 1]."""
    rng, clips = np.random.default_rng([seed, 7, step]), []
    for i in range(batch_size):
        clip = make_clip(seed, step * batch_size + i, "train", frames, SIZE).frames
        dy, dx = rng.integers(0, SIZE, size=2)
        clips.append(np.roll(clip, (int(dy), int(dx)), axis=(1, 2))[:, :crop, :crop])
    return torch.from_numpy(to_model_range(np.stack(clips)))


def disable_mid_attention(vae: torch.nn.Module) -> None:
    """Makes the mid-block self-attention (global over the frame) an exact identity: zero output projection, frozen."""
    with torch.no_grad():
        for block in (m for m in vae.modules() if type(m).__name__ == "WanAttentionBlock"):
            block.proj.weight.zero_()
            block.proj.bias.zero_()
            block.requires_grad_(False)


def load_vae(folder: Path | None) -> AutoencoderKLWan:
    """An exported VAE, or a fresh one with a small posterior variance; mid-block attention disabled."""
    if folder is not None and not (Path(folder) / "config.json").is_file():
        raise SystemExit(f"{folder} is not an exported VAE folder (no config.json).")
    vae = build_vae() if folder is None else AutoencoderKLWan.from_pretrained(str(folder))
    if folder is None:
        with torch.no_grad():  # the log-variance half of quant_conv: small and input-independent at the start
            vae.quant_conv.weight[Z_DIM:].zero_()
            vae.quant_conv.bias[Z_DIM:].fill_(INITIAL_LOGVAR)
    disable_mid_attention(vae)
    return vae


def train_vae(args: argparse.Namespace) -> None:
    """Train the AutoencoderKLWan on synthetic clips, or fine-tune an exported one.

    From scratch on crops of torus-rolled clips (fully convolutional, so crops transfer), MSE + L1 + a small KL;
    fine-tunes (``--decoder-only``, ``--encoder-anchor-weight``) on posterior means, without KL."""
    fine_tune = check_arguments(args)
    training.run_options(args)
    device = torch.device(args.device)
    vae = load_vae(args.init)
    if args.decoder_only:
        vae.encoder.requires_grad_(False)
        vae.quant_conv.requires_grad_(False)
    vae.to(device).train()
    reference = vae if args.anchor_reference is None else load_vae(args.anchor_reference).to(device)
    anchor = None if args.anchor_latents is None else DecoderAnchor(args.anchor_latents, reference, args.seed)
    encoder_reference = frozen_copy(vae) if args.encoder_anchor_weight > 0 else None
    optimizer = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0,
                                  betas=(0.9, 0.99))
    run = training.Run(args, vae, optimizer, training.EMA(vae, args.ema_decay) if args.ema_decay > 0 else None)
    eval_frames = make_dataset(EVAL_SEED, args.eval_clips, "held_out", NUM_FRAMES, SIZE)[0]

    def train_step(step: int) -> dict[str, float]:
        frames = args.clip_frames[step % len(args.clip_frames)]
        video = training_batch(args.seed, step, args.batch_size, frames, args.crop).to(device)
        posterior, logged = vae.encode(video).latent_dist, {}
        if fine_tune:  # posterior means, no KL
            z, loss = posterior.mean, torch.zeros((), device=device)
        else:
            noise = torch.randn(posterior.mean.shape, generator=training.step_generator(args.seed, step))
            z = posterior.mean + posterior.std * noise.to(device)
            kl = 0.5 * (posterior.mean.pow(2) + posterior.var - 1.0 - posterior.logvar).mean()
            loss, logged["kl"] = KL_WEIGHT * kl, float(kl.detach())
        error = decode_unclamped(vae, z) - video
        loss = loss + error.pow(2).mean() + args.l1_weight * error.abs().mean()
        logged["mse"] = float(error.detach().pow(2).mean())
        if anchor is not None:
            anchor_mse = anchor.loss(vae, step, device)
            loss, logged["anchor_mse"] = loss + args.anchor_weight * anchor_mse, float(anchor_mse.detach())
        if encoder_reference is not None:
            encoder_mse = encoder_anchor_mse(encoder_reference, z, video)
            loss = loss + args.encoder_anchor_weight * encoder_mse
            logged["encoder_anchor_mse"] = float(encoder_mse.detach())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        return logged

    def evaluate(step: int) -> None:
        if step % args.eval_every == 0 or step == args.steps:
            scores = reconstruction_psnr(run.exported(), eval_frames, device)
            run.write(event="eval", step=step, psnr=float(np.mean(scores)), psnr_min=float(np.min(scores)),
                      minutes=run.minutes)

    if run.train(train_step, warmup=args.warmup, after_step=evaluate):
        save_component(run.exported(), Path(args.out) / "vae")
        run.finish(export=str(Path(args.out) / "vae"))


def add_anchors_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="toy-t2v, toy-df or an exported pipeline folder")
    parser.add_argument("--out", type=Path, required=True, help="the .pt file to write")
    parser.add_argument("--count", type=int, default=64, help="videos to sample, one per training caption")
    parser.add_argument("--seed", type=int, default=100, help="caption order; seed of the first video (+1 per video)")
    training.add_device_arguments(parser)


def sample_anchors(args: argparse.Namespace) -> None:
    """Sample latents from a trained pipeline, to anchor a VAE fine-tune (vae --anchor-latents).

    One video per training caption; raw latents ``[N, C, F, h, w]`` and the captions in one ``.pt`` file."""
    specs = train_specs()
    if not 1 <= args.count <= len(specs):
        raise SystemExit(f"--count must be 1 to {len(specs)}, one video per training caption (got {args.count}).")
    torch.set_num_threads(max(1, args.threads))
    folder = pipeline_folder(args.model)
    pipe = DiffusionPipeline.from_pretrained(str(folder)).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    call = flat_call_settings(read_defaults(folder))
    order = np.random.default_rng([args.seed, 13]).permutation(len(specs))[: args.count]
    mean, std = (torch.tensor(getattr(pipe.vae.config, key)).view(1, -1, 1, 1, 1)
                 for key in ("latents_mean", "latents_std"))
    latents, captions = [], [specs[i].text for i in order]
    for index, caption in enumerate(tqdm(captions, desc="anchor videos")):
        generator = torch.Generator().manual_seed(args.seed + index)
        sample = pipe(prompt=caption, generator=generator, output_type="latent", **call).frames.float().cpu()
        latents.append((sample * std + mean)[0])  # the VAE's raw latents
    training.save_atomically({"latents": torch.stack(latents), "captions": captions}, args.out)
    print(f"{len(captions)} anchor videos in {args.out}")


def add_latents_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vae", type=Path, required=True, help="folder of the trained VAE (save_pretrained)")
    parser.add_argument("--out", type=Path, default=Path("runs/toy/latents"))
    parser.add_argument("--count", type=int, default=12000, help="number of training clips")
    parser.add_argument("--frames", type=int, default=25, help="frames per clip (1 + 4k)")
    parser.add_argument("--shard-size", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    training.add_device_arguments(parser)


@torch.no_grad()
def encode_latents(args: argparse.Namespace) -> None:
    """Encode the training clips once with a trained VAE (sets its latents_mean / latents_std).

    Writes float16 shards (resumable), ``stats.json`` and ``vae/``; the causal VAE's first 5 latent frames of a
    25-frame clip are those of its first 17 frames, so one set serves every model."""
    torch.set_num_threads(args.threads)
    vae = AutoencoderKLWan.from_pretrained(str(args.vae)).to(args.device).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    for index in tqdm(range(-(-args.count // args.shard_size)), desc="latent shards"):
        path = args.out / f"shard_{index:05d}.npz"
        if path.is_file():  # written by an earlier, interrupted run
            continue
        clips, captions = make_dataset(args.seed, args.shard_size, "train", args.frames, SIZE,
                                       start=index * args.shard_size)
        latents = [vae.encode(torch.from_numpy(to_model_range(clips[i:i + args.batch_size])).to(args.device))
                   .latent_dist.mode().float().cpu().numpy().astype(np.float16)
                   for i in range(0, args.shard_size, args.batch_size)]
        partial = path.parent / ("partial_" + path.name)
        np.savez(partial, latents=np.concatenate(latents), captions=np.array(captions))
        partial.replace(path)
    values = []
    for path in sorted(args.out.glob("shard_*.npz")):
        with np.load(path) as shard:
            values.append(shard["latents"].astype(np.float32))
    values = np.concatenate(values)
    mean, std = values.mean(axis=(0, 2, 3, 4)), values.std(axis=(0, 2, 3, 4))
    (args.out / "stats.json").write_text(json.dumps({"mean": mean.tolist(), "std": std.tolist(), "count": len(values)}))
    vae.register_to_config(latents_mean=[float(v) for v in mean], latents_std=[float(v) for v in std])
    save_component(vae, args.out / "vae")
    print(f"{len(values)} clips; latent mean {np.round(mean, 3)}, std {np.round(std, 3)}; "
          f"VAE saved to {args.out / 'vae'}")
