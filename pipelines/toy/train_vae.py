"""Train the toy AutoencoderKLWan on synthetic clips, or fine-tune an exported one.

From scratch, the VAE trains on small random crops (``--crop`` px) of torus-rolled clips of 9, 17 and 25
frames: convolutions are translation-equivariant and the world wraps around, and the mid-block attention
is disabled (an exact identity), so the network is fully convolutional and crop training transfers to
full frames. Loss: MSE + ``--l1-weight``·L1 + a small KL term.

Fine-tunes start from ``--init`` and train on posterior means (no sampling noise, no KL):

* ``--decoder-only``: the encoder is frozen, so every latent already computed with it stays valid;
* ``--encoder-anchor-weight W``: encoder and decoder train together, with W times the MSE between the
  new encoder's means and the starting encoder's, which keeps the latent space the denoisers work in;
* ``--anchor-latents FILE`` (with either): on crops of latents sampled from a trained pipeline
  (``train anchors``), the MSE between the new decoder's output and that of the ``--anchor-reference``
  decoder (default: the starting one), so that generated videos keep decoding as they did.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan

from . import common
from .anchors import DecoderAnchor, EncoderAnchor
from ..saving import save_component
from .configs import NUM_FRAMES, SIZE, build_vae
from .data import EVAL_SEED, make_clip, make_dataset, to_model_range
from .vae_utils import decode_unclamped, reconstruction_psnr

KL_WEIGHT = 3e-5
INITIAL_LOGVAR = -6.0  # posterior std 0.05 at the start: a random-scale latent would drown in unit noise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, steps=4000, batch_size=8, lr=5e-4, out="runs/toy/vae")
    parser.add_argument("--crop", type=int, default=24, help="spatial crop of the training clips (px)")
    parser.add_argument("--clip-frames", type=int, nargs="+", default=[9, 17, 25],
                        help="frames per training clip (1 + 4k), cycled step by step")
    parser.add_argument("--warmup", type=int, default=200, help="learning-rate warm-up steps")
    parser.add_argument("--l1-weight", type=float, default=0.1, help="weight of the L1 term (0: the MSE alone)")
    parser.add_argument("--eval-every", type=int, default=500, help="held-out PSNR every this many steps")
    parser.add_argument("--eval-clips", type=int, default=16)
    parser.add_argument("--init", type=Path, default=None, help="fine-tune this exported VAE folder")
    parser.add_argument("--decoder-only", action="store_true", help="fine-tune the decoder alone (needs --init)")
    parser.add_argument("--encoder-anchor-weight", type=float, default=0.0,
                        help="fine-tune the encoder too (needs --init), anchored to its starting means (0: off)")
    parser.add_argument("--anchor-latents", type=Path, default=None,
                        help="a `train anchors` file: keep the decodes of its latents as --anchor-reference makes them")
    parser.add_argument("--anchor-reference", type=Path, default=None,
                        help="VAE folder whose decoder the anchor keeps (default: the --init one)")
    parser.add_argument("--anchor-weight", type=float, default=1.0, help="weight of the decoder anchor's MSE")
    common.add_ema_argument(parser, 0.0)


def check_arguments(args: argparse.Namespace) -> bool:
    """One clear error for each combination of fine-tune options that cannot work; True for a fine-tune on
    posterior means (``--decoder-only`` or ``--encoder-anchor-weight``)."""
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
    rng = np.random.default_rng([seed, 7, step])
    clips = []
    for i in range(batch_size):
        clip = make_clip(seed, step * batch_size + i, "train", frames, SIZE).frames
        dy, dx = rng.integers(0, SIZE, size=2)
        clips.append(np.roll(clip, (int(dy), int(dx)), axis=(1, 2))[:, :crop, :crop])
    return torch.from_numpy(to_model_range(np.stack(clips)))


def disable_mid_attention(vae: torch.nn.Module) -> None:
    """Make the mid-block self-attention an exact identity (zero output projection, frozen): it is global
    over the frame, so weights trained on crops would not transfer to full frames."""
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
        z_dim = vae.config.z_dim
        with torch.no_grad():  # the log-variance half of quant_conv: small and input-independent at the start
            vae.quant_conv.weight[z_dim:].zero_()
            vae.quant_conv.bias[z_dim:].fill_(INITIAL_LOGVAR)
    disable_mid_attention(vae)
    return vae


def run(args: argparse.Namespace) -> None:
    fine_tune = check_arguments(args)
    options = common.run_options(args)
    device = torch.device(options.device)
    vae = load_vae(args.init)
    if args.decoder_only:
        vae.encoder.requires_grad_(False)
        vae.quant_conv.requires_grad_(False)
    vae.to(device).train()
    reference = vae if args.anchor_reference is None else load_vae(args.anchor_reference).to(device)
    anchor = None if args.anchor_latents is None else DecoderAnchor(args.anchor_latents, reference, options.seed)
    encoder_anchor = EncoderAnchor(vae) if args.encoder_anchor_weight > 0 else None
    optimizer = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=options.lr, weight_decay=0.0,
                                  betas=(0.9, 0.99))
    training = common.Run(options, vae, optimizer, common.EMA(vae, args.ema_decay) if args.ema_decay > 0 else None)
    eval_frames = make_dataset(EVAL_SEED, args.eval_clips, "held_out", NUM_FRAMES, SIZE)[0]

    def train_step(step: int) -> dict[str, float]:
        frames = args.clip_frames[step % len(args.clip_frames)]
        video = training_batch(options.seed, step, options.batch_size, frames, args.crop).to(device)
        posterior = vae.encode(video).latent_dist
        logged = {}
        if fine_tune:  # posterior means, no KL
            z, loss = posterior.mean, torch.zeros((), device=device)
        else:
            noise = torch.randn(posterior.mean.shape, generator=common.step_generator(options.seed, step))
            z = posterior.mean + posterior.std * noise.to(device)
            kl = 0.5 * (posterior.mean.pow(2) + posterior.var - 1.0 - posterior.logvar).mean()
            loss = KL_WEIGHT * kl
            logged["kl"] = float(kl.detach())
        error = decode_unclamped(vae, z) - video
        loss = loss + error.pow(2).mean() + args.l1_weight * error.abs().mean()
        logged["mse"] = float(error.detach().pow(2).mean())
        if anchor is not None:
            anchor_mse = anchor.loss(vae, step, device)
            loss = loss + args.anchor_weight * anchor_mse
            logged["anchor_mse"] = float(anchor_mse.detach())
        if encoder_anchor is not None:
            encoder_mse = encoder_anchor.loss(z, video)
            loss = loss + args.encoder_anchor_weight * encoder_mse
            logged["encoder_anchor_mse"] = float(encoder_mse.detach())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        return logged

    def evaluate(step: int) -> None:
        if step % args.eval_every == 0 or step == options.steps:
            scores = reconstruction_psnr(training.exported(), eval_frames, device)
            training.write(event="eval", step=step, psnr=float(np.mean(scores)), psnr_min=float(np.min(scores)),
                           minutes=training.minutes)

    if training.train(train_step, warmup=args.warmup, after_step=evaluate):
        export = Path(options.out) / "vae"
        save_component(training.exported(), export)
        training.write(event="done", step=training.step, minutes=training.minutes, export=str(export))
