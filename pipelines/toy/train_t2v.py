"""Train toy-t2v: a WanTransformer3DModel (and its UMT5 text encoder) with flow matching on latents.

Uses the first 5 latent frames (17 video frames) of the precomputed clips, caption dropout for
classifier-free guidance, and σ drawn with the sampler's shift (or ``--train-shift``, larger to train
more near pure noise). ``--clean-first-frame F`` gives a fraction F of the samples their first latent
frame clean (timestep 0 on its tokens, no loss on it; Wan 2.2's image-to-video conditioning): the later
frames can then only be predicted from the motion word, which teaches direction.

    python -m mmcache.pipelines.toy.train t2v --latents runs/toy/latents --out runs/toy/t2v
    # continue an export on the text encoder of another one, kept frozen (so toy-df can share it):
    python -m mmcache.pipelines.toy.train t2v --latents runs/toy/latents --out runs/toy/t2v-more \
        --init runs/toy/t2v/pipeline --text-encoder toy-t2v
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from diffusers import AutoencoderKLWan, WanTransformer3DModel
from transformers import UMT5EncoderModel

from . import common
from .assemble import T2V_DEFAULTS, build_t2v_pipeline, save_pipeline
from .configs import FLOW_SHIFT, NUM_FRAMES, PATCH, PATCH_CHOICES, build_t2v_transformer, build_text_encoder, latent_frames
from .denoiser import EMA_DECAY, Batch, train_denoiser
from .exported import exported_patch, exported_text_encoder, exported_transformer
from .flow import sample_sigmas, sigmas_with_clean_first_frame
from .latent_set import LatentSet


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, steps=6000, batch_size=32, lr=5e-4, out="runs/toy/t2v")
    parser.add_argument("--latents", type=Path, required=True, help="folder written by the `latents` stage")
    parser.add_argument("--init", default=None,
                        help="continue an exported toy-t2v (a pipeline folder or 'toy-t2v'); the optimizer and the "
                             "learning-rate schedule start afresh")
    parser.add_argument("--text-encoder", default=None,
                        help="take the text encoder of this pipeline (folder or 'toy-t2v') and keep it frozen")
    parser.add_argument("--patch-size", type=int, default=None, choices=PATCH_CHOICES,
                        help=f"spatial patch of a fresh transformer in latent pixels (default {PATCH})")
    parser.add_argument("--caption-dropout", type=float, default=0.1)
    parser.add_argument("--shift", type=float, default=FLOW_SHIFT, help="σ shift of the exported scheduler (sampling)")
    parser.add_argument("--train-shift", type=float, default=None,
                        help="σ shift of the training noise levels (default: --shift)")
    parser.add_argument("--clean-first-frame", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of samples given their first latent frame clean (default 0)")
    common.add_ema_argument(parser, EMA_DECAY)


def initial_models(init: str | None, text_source: str | None,
                   patch: int | None) -> tuple[WanTransformer3DModel, UMT5EncoderModel]:
    """Transformer and text encoder to start from: fresh, or an export's (``init``), with the text encoder
    taken from ``text_source`` where given."""
    if init is None:
        transformer = build_t2v_transformer(patch or PATCH)
    else:
        transformer = exported_transformer(init)
        if patch is not None and patch != exported_patch(transformer):
            raise SystemExit(f"--init {init} has patch {exported_patch(transformer)}; drop --patch-size {patch}.")
    text_from = text_source or init
    return transformer, build_text_encoder() if text_from is None else exported_text_encoder(text_from)


def run(args: argparse.Namespace) -> None:
    if not 0 <= args.clean_first_frame < 1:
        raise SystemExit(f"--clean-first-frame is a fraction in [0, 1) (got {args.clean_first_frame}).")
    if args.train_shift is not None and args.train_shift <= 0:
        raise SystemExit(f"--train-shift must be > 0 (got {args.train_shift}).")
    train_shift = args.shift if args.train_shift is None else args.train_shift
    options = common.run_options(args)
    data = LatentSet.load(args.latents, max_frames=latent_frames(NUM_FRAMES))
    vae = AutoencoderKLWan.from_pretrained(str(args.latents / "vae")).eval()
    transformer, text_encoder = initial_models(args.init, args.text_encoder, args.patch_size)

    def make_batch(step: int) -> Batch:
        rng = np.random.default_rng([options.seed, 11, step])
        indices = rng.integers(len(data), size=options.batch_size)
        ids, mask = data.captions_batch(indices, rng.random(options.batch_size) < args.caption_dropout)
        sigmas = sample_sigmas((options.batch_size,), train_shift, common.step_generator(options.seed, step, salt=1))
        clean = data.latents[indices]
        if args.clean_first_frame == 0:
            return Batch(clean, ids, mask, sigmas)
        given = rng.random(options.batch_size) < args.clean_first_frame
        return Batch(clean, ids, mask, *sigmas_with_clean_first_frame(sigmas, clean.shape[2], given))

    def export(model, text) -> None:
        save_pipeline(build_t2v_pipeline(vae, text, model, args.shift), Path(options.out) / "pipeline", T2V_DEFAULTS)

    train_denoiser(options, transformer, text_encoder, make_batch, train_text_encoder=args.text_encoder is None,
                   diffusion_forcing=False, export=export, ema_decay=args.ema_decay)
