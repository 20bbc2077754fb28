"""Train toy-var's multi-scale VQ tokenizer on shapes-world images (reconstruction + VQ losses).

Step ``s`` reads training images ``s·B … s·B + B − 1`` of the seed's stream (rendered on the fly). Codes
that go unused are moved onto random residual vectors of the batch every ``--restart-every`` steps during
the first ``--restart-until`` fraction of the run, so the whole codebook stays in use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from ..saving import save_component
from ..training import Run, add_run_arguments, run_options, step_generator
from .configs import TINY_TOKENIZER, TOY_TOKENIZER
from .data import image_batch
from .vqvae import MultiScaleVQVAE

EXPORT = "tokenizer"  # the run folder's subfolder holding the exported tokenizer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser, steps=1500, batch_size=16, lr=4e-4, out="runs/var/tokenizer")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--l1-weight", type=float, default=0.5, help="weight of the L1 term beside the MSE")
    parser.add_argument("--vq-weight", type=float, default=1.0, help="weight of the codebook + commitment loss")
    parser.add_argument("--restart-every", type=int, default=50, help="steps between restarts of unused codes")
    parser.add_argument("--restart-until", type=float, default=0.8, help="fraction of the run with restarts")
    parser.add_argument("--tiny", action="store_true", help="the tiny architecture (16×16 images; tests)")


def reconstruction_psnr(reconstruction: torch.Tensor, images: torch.Tensor) -> float:
    """Mean PSNR (dB) of images in [-1, 1]."""
    mse = ((reconstruction.clamp(-1, 1) - images) / 2).square().flatten(1).mean(1)
    return float((-10 * torch.log10(mse.clamp_min(1e-10))).mean())


def run(args: argparse.Namespace) -> None:
    options = run_options(args)
    model = MultiScaleVQVAE(**(TINY_TOKENIZER if args.tiny else TOY_TOKENIZER)).to(options.device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, betas=(0.9, 0.95), weight_decay=0.0)
    training = Run(options, model, optimizer, ema=None)
    size, restart_until = model.image_size, int(args.restart_until * options.steps)

    def train_step(step: int) -> dict[str, float]:
        images = image_batch(options.seed, step * options.batch_size, options.batch_size, size=size)[0]
        images = images.to(options.device)
        reconstruction, quantized = model(images)
        mse = F.mse_loss(reconstruction, images)
        loss = mse + args.l1_weight * F.l1_loss(reconstruction, images) + args.vq_weight * quantized.loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        restarted = 0
        if step % args.restart_every == 0 and step < restart_until:  # step 0: codes start on data
            restarted = model.quantize.restart_unused_codes(quantized.residuals, step_generator(options.seed, step, 7))
        return {"loss": loss.item(), "mse": mse.item(), "vq": quantized.loss.item(), "restarted": restarted,
                "psnr": reconstruction_psnr(reconstruction.detach(), images),
                "codes_used": float((model.quantize.code_usage > 0.03).sum())}

    if training.train(train_step, warmup=args.warmup, progress=True):
        save_component(training.exported(), Path(options.out) / EXPORT)
        print(f"exported {Path(options.out) / EXPORT}")
