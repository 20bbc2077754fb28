"""Train toy-df: a SkyReelsV2Transformer3DModel with diffusion forcing (a noise level per latent frame).

Starts from the trained toy-t2v transformer (same backbone, same parameter names) and keeps toy-t2v's
text encoder frozen, so both models share VAE and text encoder. Each sample is a 5-latent-frame
window at a random offset of a 7-latent-frame clip (``--start-windows-at-clip-start``: at the clip's
start whenever the window's first frame carries a loss); its per-frame noise levels are drawn from the
mixture of ``df_noise`` (how SkyReelsV2DiffusionForcingPipeline calls the model), weighted by
``--mode-weights``. ``--background-weights`` sets each background's share of the drawn clips;
``--object-weight`` charges a faint object's tokens more (``object_weights``).

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
from .assemble import DF_DEFAULTS, build_df_pipeline, call_settings, save_pipeline
from .captions import BACKGROUNDS, held_out_specs
from .configs import FLOW_SHIFT, NUM_FRAMES, build_df_transformer, latent_frames
from .denoiser import EMA_DECAY, Batch, train_denoiser
from .df_noise import MODE_WEIGHTS, MODES, check_mode_weights, clip_start_offsets, frame_sigmas
from .exported import exported_patch, exported_text_encoder, exported_transformer
from .flow import sample_sigmas
from .latent_set import LatentSet, background_draw_probabilities
from .object_weights import CAP, object_token_weights
from .sampling import long_video_coherence


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, steps=3000, batch_size=32, lr=2e-4, out="runs/toy/df", eval_every=1000)
    parser.add_argument("--latents", type=Path, required=True, help="folder written by the `latents` step")
    parser.add_argument("--init", default=None,
                        help="toy-t2v pipeline (a folder or 'toy-t2v'): initial transformer weights and the (frozen) "
                             "text encoder")
    parser.add_argument("--caption-dropout", type=float, default=0.1)
    common.add_ema_argument(parser, EMA_DECAY)
    parser.add_argument("--shift", type=float, default=FLOW_SHIFT)
    parser.add_argument("--eval-prompts", type=int, default=6)
    parser.add_argument("--eval-steps", type=int, default=20)
    parser.add_argument("--eval-frames", type=int, default=41)
    parser.add_argument("--mode-weights", type=float, nargs=len(MODES), default=list(MODE_WEIGHTS),
                        metavar="W", help=f"probability of each noise pattern {MODES} (normalised; "
                                          f"default {' '.join(map(str, MODE_WEIGHTS))})")
    parser.add_argument("--start-windows-at-clip-start", action="store_true",
                        help="cut every window whose first latent frame carries a loss from the clip's start, the "
                             "only latent the VAE encodes from one pixel frame (default: a random offset for all, "
                             "as toy-df was trained so far)")
    parser.add_argument("--background-weights", type=float, nargs=len(BACKGROUNDS), default=None,
                        metavar="W", help=f"share of the drawn clips per background {tuple(BACKGROUNDS)} "
                                          "(normalised; default: every clip equally likely)")
    parser.add_argument("--object-weight", type=float, default=0.0, metavar="S",
                        help="extra loss weight on object tokens, S · (typical object contrast / this object's)², "
                             f"capped at S · {CAP:g}; 0 (default) leaves every token at weight 1")


def load_init(init: str | None) -> tuple[torch.nn.Module, UMT5EncoderModel | None]:
    """A diffusion-forcing transformer with the weights of ``init``'s (fresh without one) and its text encoder."""
    if init is None:
        return build_df_transformer(), None
    source = exported_transformer(init)
    transformer = build_df_transformer(patch=exported_patch(source))
    transformer.load_state_dict(source.state_dict(), strict=True)
    return transformer, exported_text_encoder(init)


def run(args: argparse.Namespace) -> None:
    options = common.run_options(args)
    common.check_ema_decay(args.ema_decay)
    try:
        weights = check_mode_weights(args.mode_weights)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    common.setup_torch(options)
    data = LatentSet.load(args.latents)
    clip_probabilities = None
    if args.background_weights is not None:
        try:
            clip_probabilities = background_draw_probabilities(
                data.captions, dict(zip(BACKGROUNDS, args.background_weights)))
        except ValueError as error:
            raise SystemExit(f"--background-weights: {error}") from None
    if args.object_weight < 0:
        raise SystemExit(f"--object-weight must be non-negative; got {args.object_weight}.")
    token_weights = object_token_weights(data.latents, args.object_weight) if args.object_weight > 0 else None
    window = latent_frames(NUM_FRAMES)
    max_offset = data.latents.shape[2] - window
    vae = AutoencoderKLWan.from_pretrained(str(args.latents / "vae")).eval()
    transformer, text_encoder = load_init(args.init)
    if text_encoder is None:
        raise ValueError("toy-df shares toy-t2v's text encoder: pass --init <toy-t2v pipeline folder>.")

    def make_batch(step: int) -> Batch:
        rng = np.random.default_rng([options.seed, 13, step])
        b = options.batch_size
        if clip_probabilities is None:
            indices = rng.integers(len(data), size=b)
        else:
            indices = rng.choice(len(data), size=b, p=clip_probabilities)
        offsets = rng.integers(0, max_offset + 1, size=b)
        draws = sample_sigmas((b, window), args.shift, common.step_generator(options.seed, step, salt=1))
        pairs = [frame_sigmas(rng, draws[i], window, weights, args.shift) for i in range(b)]
        loss_weights = torch.stack([p[1] for p in pairs])
        if args.start_windows_at_clip_start:
            offsets = clip_start_offsets(offsets, loss_weights)
        clean = torch.stack([data.latents[i, :, o:o + window] for i, o in zip(indices, offsets)])
        ids, mask = data.captions_batch(indices, rng.random(b) < args.caption_dropout)
        tokens = None if token_weights is None else torch.stack(
            [token_weights[i, o:o + window] for i, o in zip(indices, offsets)])
        return Batch(clean, ids, mask, torch.stack([p[0] for p in pairs]), loss_weights, tokens)

    def pipeline(model, text):
        return build_df_pipeline(vae, text, model, args.shift)

    def evaluate(model, text, step: int) -> dict:
        specs = held_out_specs()[:: max(1, len(held_out_specs()) // args.eval_prompts)][: args.eval_prompts]
        call = {**call_settings(DF_DEFAULTS), "num_inference_steps": args.eval_steps, "num_frames": args.eval_frames}
        return long_video_coherence(pipeline(model, text).to(options.device), specs, seed=step, **call)

    def export(model, text) -> None:
        save_pipeline(pipeline(model, text), Path(options.out) / "pipeline", DF_DEFAULTS)

    train_denoiser(options, transformer, text_encoder, make_batch, train_text_encoder=False,
                   diffusion_forcing=True, evaluate=evaluate, export=export, ema_decay=args.ema_decay)
