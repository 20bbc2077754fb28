"""Train toy-df (or toy-ar): a SkyReelsV2Transformer3DModel with diffusion forcing (a noise level per latent frame).

Starts from a trained toy-t2v (same backbone, same parameter names) and keeps its text encoder frozen, so
both models share VAE and text encoder. Each sample is a 5-latent-frame window of a 7-latent-frame clip;
its per-frame noise levels follow one of the patterns of ``df_noise`` (how
SkyReelsV2DiffusionForcingPipeline calls the model), drawn with the probabilities ``--mode-weights``.
Windows start at a random offset; ``--start-windows-at-clip-start`` cuts every window whose first latent
frame carries a loss from the clip's start (see ``df_noise.clip_start_offsets``).

``--causal-block-size 2`` trains toy-ar instead, usually from toy-df: a block-causal transformer
(``num_frame_per_block`` 2) on 6-latent-frame windows (its pipeline's ``base_num_frames`` 21), so the blocks
start at the window start as in the pipeline, with one noise level per block.

    python -m mmcache.pipelines.toy.train df --latents runs/toy/latents --init runs/toy/t2v/pipeline --out runs/toy/df
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from transformers import UMT5EncoderModel

from . import common
from .assemble import AR_DEFAULTS, DF_DEFAULTS, build_df_pipeline, save_pipeline
from .configs import FLOW_SHIFT, build_df_transformer, latent_frames
from .denoiser import EMA_DECAY, Batch, train_denoiser
from .df_noise import MODE_WEIGHTS, MODES, check_mode_weights, clip_start_offsets, frame_sigmas
from .exported import exported_patch, exported_text_encoder, exported_transformer
from .flow import sample_sigmas
from .latent_set import LatentSet

# The pipeline settings exported with each block size; its ``base_num_frames`` is the training window.
DEFAULTS = {1: DF_DEFAULTS, 2: AR_DEFAULTS}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, steps=3000, batch_size=32, lr=2e-4, out="runs/toy/df")
    parser.add_argument("--latents", type=Path, required=True, help="folder written by the `latents` stage")
    parser.add_argument("--init", required=True,
                        help="the toy-t2v (or toy-df) pipeline to start from, a folder or a bundled name: "
                             "its transformer weights and its text encoder (kept frozen)")
    parser.add_argument("--caption-dropout", type=float, default=0.1)
    parser.add_argument("--shift", type=float, default=FLOW_SHIFT, help="σ shift of the noise levels and the sampler")
    parser.add_argument("--mode-weights", type=float, nargs=len(MODES), default=list(MODE_WEIGHTS), metavar="W",
                        help=f"probability of each noise pattern {MODES} (normalised; default "
                             f"{' '.join(map(str, MODE_WEIGHTS))})")
    parser.add_argument("--start-windows-at-clip-start", action="store_true",
                        help="cut every window whose first latent frame carries a loss from the clip's start")
    parser.add_argument("--causal-block-size", type=int, choices=sorted(DEFAULTS), default=1,
                        help="latent frames per causal block: 1 bidirectional (toy-df), 2 block-causal (toy-ar)")
    common.add_ema_argument(parser, EMA_DECAY)


def load_init(init: str, block: int = 1) -> tuple[torch.nn.Module, UMT5EncoderModel]:
    """A diffusion-forcing transformer (causal blocks of ``block`` latent frames) holding the weights of
    ``init``'s, and ``init``'s text encoder."""
    source = exported_transformer(init)
    transformer = build_df_transformer(patch=exported_patch(source), block=block)
    transformer.load_state_dict(source.state_dict(), strict=True)
    return transformer, exported_text_encoder(init)


def run(args: argparse.Namespace) -> None:
    try:
        weights = check_mode_weights(args.mode_weights)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    options = common.run_options(args)
    data = LatentSet.load(args.latents)
    block, defaults = args.causal_block_size, DEFAULTS[args.causal_block_size]
    window = latent_frames(defaults["extra"]["base_num_frames"])
    max_offset = data.latents.shape[2] - window
    if max_offset < 0:
        raise SystemExit(f"{args.latents} holds {data.latents.shape[2]}-latent-frame clips; this model trains on "
                         f"{window}-frame windows: encode longer clips (`latents --frames`).")
    vae = AutoencoderKLWan.from_pretrained(str(args.latents / "vae")).eval()
    transformer, text_encoder = load_init(args.init, block)

    def make_batch(step: int) -> Batch:
        rng = np.random.default_rng([options.seed, 13, step])
        b = options.batch_size
        indices = rng.integers(len(data), size=b)
        offsets = rng.integers(0, max_offset + 1, size=b)
        draws = sample_sigmas((b, window), args.shift, common.step_generator(options.seed, step, salt=1))
        pairs = [frame_sigmas(rng, draws[i], window, weights, args.shift, block) for i in range(b)]
        sigmas, loss_weights = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
        if args.start_windows_at_clip_start:
            offsets = clip_start_offsets(offsets, loss_weights)
        clean = torch.stack([data.latents[i, :, o:o + window] for i, o in zip(indices, offsets)])
        ids, mask = data.captions_batch(indices, rng.random(b) < args.caption_dropout)
        return Batch(clean, ids, mask, sigmas, loss_weights)

    def export(model, text) -> None:
        save_pipeline(build_df_pipeline(vae, text, model, args.shift), Path(options.out) / "pipeline", defaults)

    train_denoiser(options, transformer, text_encoder, make_batch, train_text_encoder=False,
                   diffusion_forcing=True, export=export, ema_decay=args.ema_decay)
