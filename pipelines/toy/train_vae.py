"""Train the toy AutoencoderKLWan for reconstruction of synthetic clips.

Convolutions are translation-equivariant and the world wraps around, so the VAE trains on small
random crops (``--crop`` px) of torus-rolled clips of 9, 17 and 25 frames, and is evaluated on full
held-out 17-frame 64×64 clips. The mid-block attention is disabled (exact identity) so that the
network is fully convolutional and crop training transfers to full frames. Loss: MSE + 0.1·L1 + a
small KL term; the posterior variance starts small. ``--l1-weight 0`` trains on the MSE alone, which
is what PSNR scores; ``--ema-decay`` evaluates and exports a weight average instead of the last
weights (off by default).

``--copy-init`` starts the temporal resampling convs as frame copies; it did not get past the
plateau described in docs/MODELS.md#status sooner in 250-400-step trials, so the cpu preset does
not use it.

``--decoder-only`` fine-tunes just the decoder of an exported VAE on the posterior means (no
sampling noise, no KL): the encoder, and so every latent already computed with it, stays exactly
the same, which lets it run side by side with denoiser training on those latents.
``--anchor-latents FILE`` (decoder-only) adds a second term: on crops of latents sampled from the
trained pipelines (``train anchors``), the MSE between the new decoder's output and the starting
decoder's, weighted by ``--anchor-weight``, so that learning the real clips does not change how
generated videos decode (:mod:`.anchors`).

``--encoder-anchor-weight W`` (with ``--init``, not ``--decoder-only``) fine-tunes encoder and decoder
together: latents are the posterior means (no sampling noise, no KL, like the latents the denoisers
train on), and the MSE between the new encoder's means and the starting encoder's, times ``W``, keeps
the latent space the denoisers generate in. ``--anchor-latents`` works here too.

    python -m mmcache.pipelines.toy.train vae --out /path/run/vae --max-minutes 9   # resumable
    python -m mmcache.pipelines.toy.train vae --init latents/vae --decoder-only --crop 64 --clip-frames 17 \
        --batch-size 2 --lr 1e-4 --steps 1500 --out /path/run/decoder [--anchor-latents runs/toy/anchors/df.pt]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan

from . import common
from .anchors import DecoderAnchor, EncoderAnchor
from .assemble import save_component
from .configs import NUM_FRAMES, SIZE, build_vae
from .data import make_clip, make_dataset, to_model_range
from .vae_utils import decode_unclamped, reconstruction_psnr

EVAL_SEED = 1_000_003
KL_WEIGHT = 3e-5
L1_WEIGHT = 0.1
INITIAL_LOGVAR = -6.0  # posterior std 0.05 at the start: a random-scale latent would drown in unit noise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, steps=4000, batch_size=8, lr=5e-4, out="runs/toy/vae", eval_every=500)
    parser.add_argument("--crop", type=int, default=24, help="spatial crop of the training clips (px)")
    parser.add_argument("--clip-frames", type=int, nargs="+", default=[9, 17, 25],
                        help="frames per training clip (1 + 4k), cycled step by step")
    parser.add_argument("--eval-clips", type=int, default=16)
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this exported VAE (e.g. fine-tune crop-trained weights on full clips)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--copy-init", action="store_true",
                        help="initialise the temporal resampling convs as frame copies (faster start)")
    parser.add_argument("--decoder-only", action="store_true",
                        help="fine-tune only the decoder (needs --init); latents made with the encoder stay valid")
    parser.add_argument("--l1-weight", type=float, default=L1_WEIGHT,
                        help=f"weight of the L1 term beside the MSE (default {L1_WEIGHT}; 0 trains on the MSE alone)")
    parser.add_argument("--anchor-latents", type=Path, nargs="+", default=None,
                        help="files from `train anchors` (decoder-only): keep their decodes as the --init decoder made them")
    parser.add_argument("--anchor-reference", type=Path, default=None,
                        help="VAE folder whose decoder the anchor keeps (default: the --init one); lets a run "
                             "continue an anchored decoder while still anchoring to the released one")
    parser.add_argument("--anchor-weight", type=float, default=1.0,
                        help="weight of the anchor MSE beside the reconstruction loss")
    parser.add_argument("--anchor-crop", type=int, default=8,
                        help="spatial crop of the anchor latents (latent px; the decoder is fully convolutional)")
    parser.add_argument("--anchor-frames", type=int, default=5, help="latent frames per anchor crop")
    parser.add_argument("--anchor-batch", type=int, default=2, help="anchor crops per step")
    parser.add_argument("--encoder-anchor-weight", type=float, default=0.0,
                        help="fine-tune the encoder too (with --init): weight of the MSE that keeps its posterior "
                             "means near the starting encoder's (0: off)")
    common.add_ema_argument(parser, 0.0)


def training_batch(seed: int, step: int, batch_size: int, frames: int, crop: int) -> torch.Tensor:
    """Batch ``step``: rolled and cropped training clips, ``[B, 3, frames, crop, crop]`` in [-1, 1]."""
    rng = np.random.default_rng([seed, 7, step])
    clips = []
    for i in range(batch_size):
        clip = make_clip(seed, step * batch_size + i, "train", frames, SIZE).frames
        dy, dx = rng.integers(0, SIZE, size=2)
        clips.append(np.roll(clip, (int(dy), int(dx)), axis=(1, 2))[:, :crop, :crop])
    return torch.from_numpy(to_model_range(np.stack(clips)))


def initialise_posterior_variance(vae: torch.nn.Module, logvar: float = INITIAL_LOGVAR) -> None:
    """Start with a small, input-independent posterior variance (the log-variance half of ``quant_conv``)."""
    z = vae.config.z_dim
    with torch.no_grad():
        vae.quant_conv.weight[z:].zero_()
        vae.quant_conv.bias[z:].fill_(logvar)


def initialise_temporal_resampling(vae: torch.nn.Module) -> None:
    """Start every temporal down/up-sampling conv as a frame copy instead of a random frame mix.

    Their kernels span 3 frames; the last tap is the current frame. Downsampling starts by keeping
    the later frame of each pair, upsampling by repeating the frame (both output halves = input), so
    frames after the first (which skip these convs) start as well reconstructed as the first one.
    """
    with torch.no_grad():
        for module in vae.modules():
            conv = getattr(module, "time_conv", None)
            if conv is None:
                continue
            out_channels, in_channels = conv.weight.shape[:2]
            eye = torch.eye(in_channels, dtype=conv.weight.dtype)
            conv.weight.zero_()
            conv.bias.zero_()
            for start in range(0, out_channels, in_channels):
                conv.weight[start:start + in_channels, :, -1, 0, 0] = eye


def disable_mid_attention(vae: torch.nn.Module) -> None:
    """Make the mid-block self-attention an exact identity (zero output projection, frozen).

    That attention is global over the frame, so weights trained on crops do not transfer to full
    frames; without it the VAE is fully convolutional and crop training generalises to any size.
    """
    blocks = [m for m in vae.modules() if type(m).__name__ == "WanAttentionBlock"]
    with torch.no_grad():
        for block in blocks:
            block.proj.weight.zero_()
            block.proj.bias.zero_()
            block.requires_grad_(False)


def anchor_reference(folder: Path | None, vae: torch.nn.Module) -> torch.nn.Module:
    """The VAE whose decodes the anchor keeps: the one in ``folder``, else the starting ``vae`` itself."""
    if folder is None:
        return vae
    if not (Path(folder) / "config.json").is_file():
        raise SystemExit(f"--anchor-reference {folder} is not an exported VAE folder (no config.json): "
                         "pass a folder such as pipelines/toy/models/toy-t2v/vae.")
    reference = AutoencoderKLWan.from_pretrained(str(folder))
    disable_mid_attention(reference)
    return reference


def freeze_encoder(vae: torch.nn.Module) -> None:
    """Freeze everything up to the latent (encoder and ``quant_conv``): only the decoder trains."""
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)


def held_out_clips(count: int) -> np.ndarray:
    """Full-size clips of held-out captions from a seed no training run uses."""
    return make_dataset(EVAL_SEED, count, "held_out", NUM_FRAMES, SIZE)[0]


def run(args: argparse.Namespace) -> None:
    options = common.run_options(args)
    common.check_ema_decay(args.ema_decay)
    if args.l1_weight < 0:
        raise SystemExit(f"--l1-weight must be 0 or more (got {args.l1_weight}).")
    device = common.setup_torch(options)
    if args.init is not None:
        vae = AutoencoderKLWan.from_pretrained(str(args.init))
    else:
        vae = build_vae()
        initialise_posterior_variance(vae)
        if args.copy_init:
            initialise_temporal_resampling(vae)
    disable_mid_attention(vae)
    if args.decoder_only:
        if args.init is None:
            raise SystemExit("--decoder-only fine-tunes an exported VAE: pass it with --init FOLDER.")
        freeze_encoder(vae)
    elif args.anchor_latents and args.encoder_anchor_weight <= 0:
        raise SystemExit("--anchor-latents anchors a fine-tune of an exported VAE: add --decoder-only, or "
                         "--encoder-anchor-weight W to train the encoder too (and --init).")
    if args.anchor_weight < 0 or args.encoder_anchor_weight < 0:
        raise SystemExit(f"--anchor-weight and --encoder-anchor-weight must be 0 or more "
                         f"(got {args.anchor_weight}, {args.encoder_anchor_weight}).")
    if args.encoder_anchor_weight > 0 and (args.init is None or args.decoder_only):
        raise SystemExit("--encoder-anchor-weight fine-tunes the encoder of an exported VAE: pass --init FOLDER "
                         "and leave out --decoder-only.")
    if args.anchor_reference is not None and not args.anchor_latents:
        raise SystemExit("--anchor-reference names the decoder an anchor keeps: add --anchor-latents FILE.")
    vae = vae.to(device)
    anchor = None if not args.anchor_latents else DecoderAnchor(
        args.anchor_latents, anchor_reference(args.anchor_reference, vae).to(device), args.anchor_crop,
        args.anchor_frames, args.anchor_batch, options.seed)
    encoder_anchor = EncoderAnchor(vae) if args.encoder_anchor_weight > 0 else None
    optimizer = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=options.lr, weight_decay=0.0, betas=(0.9, 0.99))
    ema = common.EMA(vae, args.ema_decay) if args.ema_decay > 0 else None
    log = common.RunLog(options.out)
    state = common.load_checkpoint(options.out)
    step, elapsed = 0, 0.0
    if state is not None:
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ("ema" in state) != (ema is not None):
            held = "with" if "ema" in state else "without"
            raise SystemExit(f"{options.out} holds a run {held} --ema-decay: resume it {held} the flag, "
                             "or start the other kind of run in a new --out folder.")
        if ema is not None:
            ema.load_state_dict(state["ema"])
        step, elapsed = state["step"], state["elapsed"]
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)")
    timebox = common.TimeBox(options.max_minutes, options.checkpoint_minutes, elapsed, options.chunk_steps, step)
    eval_frames = held_out_clips(args.eval_clips)
    n_params = sum(p.numel() for p in vae.parameters())
    log.write(event="start", step=step, params=n_params)

    def checkpoint() -> None:
        extra = {} if ema is None else {"ema": ema.state_dict()}
        common.save_checkpoint(options.out, {"model": vae.state_dict(), "optimizer": optimizer.state_dict(),
                                             "step": step, "elapsed": timebox.total_elapsed, **extra})

    def exported() -> torch.nn.Module:
        """The weights to evaluate and export: the average when there is one, else the trained ones."""
        return vae.eval() if ema is None else ema.averaged_copy(vae)

    def evaluate() -> None:
        scores = reconstruction_psnr(exported(), eval_frames, device)
        raw = {} if ema is None else {"psnr_raw": float(np.mean(reconstruction_psnr(vae.eval(), eval_frames, device)))}
        vae.train()
        log.write(event="eval", step=step, psnr=float(np.mean(scores)), psnr_min=float(np.min(scores)), **raw,
                  minutes=timebox.total_elapsed / 60)

    vae.train()
    tick, losses, anchor_losses, encoder_losses = time.monotonic(), [], [], []
    while step < options.steps:
        if common.pause_if_out_of_time(timebox, step, checkpoint, log):
            return
        common.set_lr(optimizer, common.cosine_lr(step, options.steps, options.lr, warmup=args.warmup))
        frames = args.clip_frames[step % len(args.clip_frames)]
        video = training_batch(options.seed, step, options.batch_size, frames, args.crop).to(device)
        if args.decoder_only:
            with torch.no_grad():
                z = vae.encode(video).latent_dist.mode()
            kl = torch.zeros(())
        elif encoder_anchor is not None:
            z = vae.encode(video).latent_dist.mean
            kl = torch.zeros(())
        else:
            posterior = vae.encode(video).latent_dist
            noise = torch.randn(posterior.mean.shape, generator=common.step_generator(options.seed, step)).to(device)
            z = posterior.mean + posterior.std * noise
            kl = 0.5 * (posterior.mean.pow(2) + posterior.var - 1.0 - posterior.logvar).mean()
        reconstruction = decode_unclamped(vae, z)
        error = reconstruction - video
        loss = error.pow(2).mean() + args.l1_weight * error.abs().mean() + KL_WEIGHT * kl
        if anchor is not None:
            anchor_mse = anchor.loss(vae, step, device)
            anchor_losses.append(float(anchor_mse.detach()))
            loss = loss + args.anchor_weight * anchor_mse
        if encoder_anchor is not None:
            encoder_mse = encoder_anchor.loss(z, video)
            encoder_losses.append(float(encoder_mse.detach()))
            loss = loss + args.encoder_anchor_weight * encoder_mse
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        if ema is not None:
            ema.update(vae, step)
        step += 1
        losses.append(float(error.detach().pow(2).mean()))
        if step % 25 == 0:
            seconds = (time.monotonic() - tick) / 25
            anchored = {} if anchor is None else {"anchor_mse": float(np.mean(anchor_losses))}
            if encoder_anchor is not None:
                anchored["encoder_anchor_mse"] = float(np.mean(encoder_losses))
            log.write(event="train", step=step, mse=float(np.mean(losses)), kl=float(kl.detach()), **anchored,
                      lr=optimizer.param_groups[0]["lr"], sec_per_step=seconds, minutes=timebox.total_elapsed / 60)
            tick, losses, anchor_losses, encoder_losses = time.monotonic(), [], [], []
        if step % options.eval_every == 0 or step == options.steps:
            evaluate()
        if timebox.checkpoint_due():
            checkpoint()
    checkpoint()
    save_component(exported(), Path(options.out) / "vae")
    log.write(event="done", step=step, minutes=timebox.total_elapsed / 60, export=str(Path(options.out) / "vae"))
