"""Train toy-t2v, and toy-df or toy-ar by diffusion forcing, with flow matching on precomputed latents in Wan's
conventions (``x_σ = (1 - σ)·x₀ + σ·ε``, ``timestep = 1000·σ``, target ``ε - x₀``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLWan, SkyReelsV2DiffusionForcingPipeline, WanPipeline, WanTransformer3DModel
from transformers import UMT5EncoderModel

from .. import training
from ..loader import pipeline_folder
from .configs import AR_DEFAULTS, DF_DEFAULTS, FLOW_SHIFT, MAX_CAPTION_TOKENS, NUM_FRAMES, PATCH, T2V_DEFAULTS
from .configs import build_text_encoder, build_tokenizer, build_transformer
from .configs import latent_frames, save_pipeline
from .df_noise import MODE_WEIGHTS, MODES, check_mode_weights, clip_start_offsets, frame_sigmas

PIPELINE_SEQUENCE_LENGTH = 512
EMA_DECAY = 0.999
DF_BLOCK_DEFAULTS = {1: DF_DEFAULTS, 2: AR_DEFAULTS}  # by causal block size; base_num_frames is the training window


def sample_sigmas(shape: tuple[int, ...], shift: float, generator: torch.Generator) -> torch.Tensor:
    """σ in (0, 1), drawn uniformly then shifted like the sampler's schedule (towards high noise)."""
    sigmas = torch.rand(shape, generator=generator).clamp(1e-4, 1 - 1e-4)
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def tokenize(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and attention mask, ``[N, MAX_CAPTION_TOKENS]``."""
    batch = build_tokenizer()(captions, padding="max_length", max_length=MAX_CAPTION_TOKENS, truncation=True,
                              add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    return batch.input_ids, batch.attention_mask


def encode(text_encoder: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor,
           sequence_length: int = PIPELINE_SEQUENCE_LENGTH) -> torch.Tensor:
    """Text states as WanPipeline builds them: ``[B, sequence_length, D]``, zero after each caption."""
    states = text_encoder(ids, attention_mask=mask).last_hidden_state
    states = states * mask.unsqueeze(-1).to(states.dtype)
    return torch.cat([states, states.new_zeros(len(states), sequence_length - states.shape[1], states.shape[2])], 1)


def short_text_states(states: torch.Tensor) -> torch.Tensor:
    """Caption states ``[B, L, D]`` (zeros after each caption) plus one zero vector for all the padding."""
    return torch.cat([states, states.new_zeros(states.shape[0], 1, states.shape[2])], dim=1)


class PaddedCrossAttnProcessor:
    """Text cross-attention whose last key, a zero vector, stands for the padding of a 512-position input (n equal
    keys are one key with log(n) added to its logit): the pipelines' function, about 20× cheaper on a CPU."""

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor,
                 attention_mask: torch.Tensor | None = None, rotary_emb: Any = None) -> torch.Tensor:
        query = attn.norm_q(attn.to_q(hidden_states))
        key = attn.norm_k(attn.to_k(encoder_hidden_states))
        b, lk = query.shape[0], key.shape[1]
        query, key, value = (x.view(b, -1, attn.heads, x.shape[-1] // attn.heads).transpose(1, 2)
                             for x in (query, key, attn.to_v(encoder_hidden_states)))
        bias = torch.zeros(lk, dtype=query.dtype, device=query.device)
        bias[-1] = math.log(PIPELINE_SEQUENCE_LENGTH - (lk - 1))
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=bias.view(1, 1, 1, lk))
        return attn.to_out[1](attn.to_out[0](out.transpose(1, 2).flatten(2, 3).type_as(query)))


def use_padded_cross_attention(transformer: torch.nn.Module) -> dict[str, Any]:
    """Installs the processor on every ``attn2``; returns the previous processors for ``restore_processors``."""
    previous = {name: module.processor for name, module in transformer.named_modules() if name.endswith("attn2")}
    restore_processors(transformer, dict.fromkeys(previous, PaddedCrossAttnProcessor()))
    return previous


def restore_processors(transformer: torch.nn.Module, processors: dict[str, Any]) -> None:
    modules = dict(transformer.named_modules())
    for name, processor in processors.items():
        modules[name].set_processor(processor)


@dataclasses.dataclass
class LatentSet:
    """The ``latents`` stage's clips, normalised (``[N, C, F, h, w]`` float32), with caption ids and masks."""

    latents: torch.Tensor
    ids: torch.Tensor
    mask: torch.Tensor
    vae: AutoencoderKLWan  # the VAE that encoded them, with their statistics
    empty: tuple[torch.Tensor, torch.Tensor] = dataclasses.field(default_factory=lambda: tokenize([""]))

    @classmethod
    def load(cls, folder: Path, max_frames: int | None = None) -> LatentSet:
        paths = sorted(Path(folder).glob("shard_*.npz"))
        if not paths:
            raise SystemExit(f"No latent shards in {folder}; run `python -m mmcache.pipelines.toy.train latents`.")
        latents, captions = [], []
        for path in paths:
            with np.load(path) as shard:
                latents.append(shard["latents"][:, :, :max_frames])
                captions += [str(c) for c in shard["captions"]]
        stats = json.loads((Path(folder) / "stats.json").read_text())
        m, s = (np.asarray(stats[key], dtype=np.float32).reshape(1, -1, 1, 1, 1) for key in ("mean", "std"))
        unique = sorted(set(captions))
        ids, mask = tokenize(unique)
        row_of = {caption: row for row, caption in enumerate(unique)}
        rows = torch.tensor([row_of[c] for c in captions])
        vae = AutoencoderKLWan.from_pretrained(str(Path(folder) / "vae")).eval()
        return cls(torch.from_numpy((np.concatenate(latents).astype(np.float32) - m) / s), ids[rows], mask[rows], vae)

    def captions_batch(self, indices: np.ndarray, drop: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids and masks of ``indices``, with the empty caption where ``drop`` (classifier-free guidance)."""
        ids, mask = self.ids[torch.from_numpy(indices)].clone(), self.mask[torch.from_numpy(indices)].clone()
        empty_ids, empty_mask = self.empty  # the empty caption, tokenized once
        ids[torch.from_numpy(drop)], mask[torch.from_numpy(drop)] = empty_ids[0], empty_mask[0]
        return ids, mask


@dataclasses.dataclass
class Batch:
    clean: torch.Tensor  # [B, C, F, h, w] normalised latents
    ids: torch.Tensor  # [B, L]
    mask: torch.Tensor  # [B, L]
    sigmas: torch.Tensor  # [B] (one level per clip) or [B, F] (per latent frame)
    frame_weight: torch.Tensor | None = None  # [B, F]: 0 excludes a frame from the loss


def model_timesteps(sigmas: torch.Tensor, clean_shape: torch.Size, patch: tuple[int, int, int],
                    diffusion_forcing: bool) -> torch.Tensor:
    """``timestep``: ``[B]``, or per frame ``[B, F]`` for diffusion forcing and per token for Wan (Wan 2.2's)."""
    if sigmas.ndim == 2 and not diffusion_forcing:
        sigmas = sigmas.repeat_interleave((clean_shape[-2] // patch[1]) * (clean_shape[-1] // patch[2]), dim=1)
    return sigmas * 1000


def train_denoiser(args: argparse.Namespace, vae: AutoencoderKLWan, transformer: torch.nn.Module,
                   text_encoder: torch.nn.Module, make_batch: Callable[[int], Batch], pipeline_class: type,
                   defaults: dict[str, Any], train_text_encoder: bool = False) -> None:
    """Runs (or resumes) the loop, then exports the weight average with ``vae`` and ``defaults`` to out/pipeline."""
    device, diffusion_forcing = torch.device(args.device), pipeline_class is SkyReelsV2DiffusionForcingPipeline
    bundle = torch.nn.ModuleDict({"transformer": transformer, "text_encoder": text_encoder}).to(device)
    text_encoder.requires_grad_(train_text_encoder)
    trained = [p for p in bundle.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    run = training.Run(args, bundle, optimizer, training.EMA(bundle, args.ema_decay) if args.ema_decay > 0 else None)
    processors = use_padded_cross_attention(transformer)
    patch = tuple(transformer.config.patch_size)
    extra = {"enable_diffusion_forcing": True} if diffusion_forcing else {}
    bundle.train()

    def train_step(step: int) -> dict[str, float]:
        batch = make_batch(step)
        noise = torch.randn(batch.clean.shape, generator=training.step_generator(args.seed, step))
        s = batch.sigmas.view(-1, 1, 1, 1, 1) if batch.sigmas.ndim == 1 else batch.sigmas[:, None, :, None, None]
        noisy, target = (1 - s) * batch.clean + s * noise, (noise - batch.clean).to(device)
        with torch.set_grad_enabled(train_text_encoder):
            states = encode(text_encoder, batch.ids.to(device), batch.mask.to(device), batch.ids.shape[1])
        timestep = model_timesteps(batch.sigmas, batch.clean.shape, patch, diffusion_forcing)
        prediction = transformer(hidden_states=noisy.to(device), timestep=timestep.to(device),
                                 encoder_hidden_states=short_text_states(states), return_dict=False, **extra)[0]
        error = (prediction.float() - target).pow(2).mean(dim=(1, 3, 4))  # [B, F]
        weight = None if batch.frame_weight is None else batch.frame_weight.to(device)
        loss = error.mean() if weight is None else (error * weight).sum() / weight.sum().clamp_min(1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        return {"loss": float(loss.detach())}

    if run.train(train_step):
        averaged = run.exported()
        restore_processors(averaged["transformer"], processors)  # diffusers' own attention in the saved model
        save_pipeline(pipeline_class, Path(args.out) / "pipeline", defaults, args.shift, vae=vae,
                      text_encoder=averaged["text_encoder"], transformer=averaged["transformer"])
        run.finish()


def add_shared_arguments(parser: argparse.ArgumentParser, *, steps: int, lr: float, out: str) -> None:
    training.add_run_arguments(parser, steps=steps, batch_size=32, lr=lr, out=out)
    parser.add_argument("--latents", type=Path, required=True, help="folder written by the `latents` stage")
    parser.add_argument("--caption-dropout", type=float, default=0.1)
    training.add_ema_argument(parser, EMA_DECAY)


def add_t2v_arguments(parser: argparse.ArgumentParser) -> None:
    add_shared_arguments(parser, steps=6000, lr=5e-4, out="runs/toy/t2v")
    parser.add_argument("--init", default=None, help="continue this export with a fresh optimizer and schedule")
    parser.add_argument("--text-encoder", default=None, help="take this pipeline's text encoder and keep it frozen")
    parser.add_argument("--patch-size", type=int, default=None, choices=(1, 2, 4),
                        help=f"spatial patch of a fresh transformer in latent pixels (default {PATCH})")
    parser.add_argument("--shift", type=float, default=FLOW_SHIFT, help="σ shift of the exported scheduler (sampling)")
    parser.add_argument("--train-shift", type=float, default=None, help="training σ shift (default: --shift)")
    parser.add_argument("--clean-first-frame", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of samples given their first latent frame clean (timestep 0, no loss)")


def sigmas_with_clean_first_frame(sigmas: torch.Tensor, frames: int, given: np.ndarray) -> tuple[torch.Tensor, ...]:
    """Per-frame σ ``[B, frames]`` and loss weights: the clip's σ, but σ 0 and weight 0 on frame 0 where given."""
    per_frame, weight = sigmas[:, None].repeat(1, frames), torch.ones(len(sigmas), frames)
    rows = torch.from_numpy(np.asarray(given, dtype=bool))
    per_frame[rows, 0], weight[rows, 0] = 0.0, 0.0
    return per_frame, weight


def train_t2v(args: argparse.Namespace) -> None:
    """Train toy-t2v's transformer (and text encoder) by flow matching.

    On the clips' first 17 frames; a clean first latent frame leaves the motion word to say where the object goes."""
    if not 0 <= args.clean_first_frame < 1:
        raise SystemExit(f"--clean-first-frame is a fraction in [0, 1) (got {args.clean_first_frame}).")
    if args.train_shift is not None and args.train_shift <= 0:
        raise SystemExit(f"--train-shift must be > 0 (got {args.train_shift}).")
    train_shift = args.shift if args.train_shift is None else args.train_shift
    training.run_options(args)
    data = LatentSet.load(args.latents, max_frames=latent_frames(NUM_FRAMES))
    if args.init is None:
        transformer = build_transformer(args.patch_size or PATCH)
    else:
        transformer, patch = exported(args.init, "transformer"), args.patch_size
        if patch not in (None, transformer.config.patch_size[-1]):
            raise SystemExit(f"--init {args.init} has patch {transformer.config.patch_size[-1]}; "
                             f"drop --patch-size {patch}.")
    text_from = args.text_encoder or args.init
    text_encoder = build_text_encoder() if text_from is None else exported(text_from, "text_encoder")

    def make_batch(step: int) -> Batch:
        rng = np.random.default_rng([args.seed, 11, step])
        indices = rng.integers(len(data.latents), size=args.batch_size)
        ids, mask = data.captions_batch(indices, rng.random(args.batch_size) < args.caption_dropout)
        sigmas = sample_sigmas((args.batch_size,), train_shift, training.step_generator(args.seed, step, salt=1))
        clean = data.latents[indices]
        if args.clean_first_frame == 0:
            return Batch(clean, ids, mask, sigmas)
        given = rng.random(args.batch_size) < args.clean_first_frame
        return Batch(clean, ids, mask, *sigmas_with_clean_first_frame(sigmas, clean.shape[2], given))

    train_denoiser(args, data.vae, transformer, text_encoder, make_batch, WanPipeline, T2V_DEFAULTS,
                   train_text_encoder=args.text_encoder is None)


def add_df_arguments(parser: argparse.ArgumentParser) -> None:
    add_shared_arguments(parser, steps=3000, lr=2e-4, out="runs/toy/df")
    parser.add_argument("--init", required=True, help="start from this pipeline's transformer, its text encoder frozen")
    parser.add_argument("--shift", type=float, default=FLOW_SHIFT, help="σ shift of the noise levels and the sampler")
    parser.add_argument("--mode-weights", type=float, nargs=len(MODES), default=list(MODE_WEIGHTS), metavar="W",
                        help=f"probability of each noise pattern {MODES} (normalised)")
    parser.add_argument("--start-windows-at-clip-start", action="store_true",
                        help="cut every window whose first latent frame carries a loss from the clip's start")
    parser.add_argument("--causal-block-size", type=int, choices=sorted(DF_BLOCK_DEFAULTS), default=1,
                        help="latent frames per causal block: 1 bidirectional (toy-df), 2 block-causal (toy-ar)")


def exported(source: str | Path, part: str) -> Any:
    """The ``"transformer"`` (as Wan's) or ``"text_encoder"`` of an exported pipeline (folder or bundled name)."""
    model = WanTransformer3DModel if part == "transformer" else UMT5EncoderModel
    return model.from_pretrained(str(pipeline_folder(source) / part))


def load_init(init: str, block: int = 1) -> tuple[torch.nn.Module, torch.nn.Module]:
    """A diffusion-forcing transformer (causal blocks of ``block`` latent frames) with ``init``'s weights, and its
    text encoder."""
    source = exported(init, "transformer")
    transformer = build_transformer(source.config.patch_size[-1], block)
    transformer.load_state_dict(source.state_dict(), strict=True)
    return transformer, exported(init, "text_encoder")


def train_df(args: argparse.Namespace) -> None:
    """Train toy-df's transformer by diffusion forcing, from a toy-t2v (--causal-block-size 2: toy-ar's, from toy-df).

    On windows of the clips (the pipeline's ``base_num_frames``), with ``df_noise``'s per-frame noise levels."""
    weights = check_mode_weights(args.mode_weights)
    training.run_options(args)
    data = LatentSet.load(args.latents)
    block, defaults = args.causal_block_size, DF_BLOCK_DEFAULTS[args.causal_block_size]
    window = latent_frames(defaults["extra"]["base_num_frames"])
    max_offset = data.latents.shape[2] - window
    if max_offset < 0:
        raise SystemExit(f"{args.latents} holds {data.latents.shape[2]}-latent-frame clips; this model trains on "
                         f"{window}-frame windows: encode longer clips (`latents --frames`).")
    transformer, text_encoder = load_init(args.init, block)

    def make_batch(step: int) -> Batch:
        rng, b = np.random.default_rng([args.seed, 13, step]), args.batch_size
        indices, offsets = rng.integers(len(data.latents), size=b), rng.integers(0, max_offset + 1, size=b)
        draws = sample_sigmas((b, window), args.shift, training.step_generator(args.seed, step, salt=1))
        sigmas, loss_weights = map(torch.stack, zip(*(frame_sigmas(rng, draws[i], window, weights, args.shift, block)
                                                       for i in range(b))))
        if args.start_windows_at_clip_start:
            offsets = clip_start_offsets(offsets, loss_weights)
        clean = torch.stack([data.latents[i, :, o:o + window] for i, o in zip(indices, offsets)])
        ids, mask = data.captions_batch(indices, rng.random(b) < args.caption_dropout)
        return Batch(clean, ids, mask, sigmas, loss_weights)

    train_denoiser(args, data.vae, transformer, text_encoder, make_batch, SkyReelsV2DiffusionForcingPipeline, defaults)
