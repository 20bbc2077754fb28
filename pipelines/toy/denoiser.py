"""The training loop shared by toy-t2v and toy-df: flow matching on precomputed latents.

A trainer supplies ``make_batch(step)`` (clean latents, captions, noise levels, per-frame loss weights);
this loop noises, predicts the velocity with the transformer conditioned on the text encoder's states
(the pipelines' 512-position padding reproduced exactly, see ``padded_attention``), and exports the
weight average at the end.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from . import common
from .flow import NUM_TRAIN_TIMESTEPS, noisy_and_target
from .padded_attention import restore_processors, short_text_states, use_padded_cross_attention
from .text import encode

EMA_DECAY = 0.999


@dataclasses.dataclass
class Batch:
    clean: torch.Tensor  # [B, C, F, h, w] normalised latents
    ids: torch.Tensor  # [B, L]
    mask: torch.Tensor  # [B, L]
    sigmas: torch.Tensor  # [B] (one level per clip) or [B, F] (per latent frame)
    frame_weight: torch.Tensor | None = None  # [B, F]: 0 excludes a frame from the loss


def model_timesteps(sigmas: torch.Tensor, clean_shape: torch.Size, patch: tuple[int, int, int],
                    diffusion_forcing: bool) -> torch.Tensor:
    """The ``timestep`` argument for ``sigmas``: ``[B]`` as is; per-frame ``[B, F]`` stays per frame for a
    diffusion-forcing transformer and becomes per token ``[B, F·h·w / patch²]`` for Wan (Wan 2.2's
    per-token timesteps, e.g. a clean first frame)."""
    if sigmas.ndim == 2 and not diffusion_forcing:
        tokens_per_frame = (clean_shape[-2] // patch[1]) * (clean_shape[-1] // patch[2])
        sigmas = sigmas.repeat_interleave(tokens_per_frame, dim=1)
    return sigmas * NUM_TRAIN_TIMESTEPS


def flow_loss(prediction: torch.Tensor, target: torch.Tensor, frame_weight: torch.Tensor | None) -> torch.Tensor:
    """The velocity MSE per latent frame, averaged over the frames with ``frame_weight``."""
    error = (prediction.float() - target).pow(2).mean(dim=(1, 3, 4))  # [B, F]
    if frame_weight is None:
        return error.mean()
    return (error * frame_weight).sum() / frame_weight.sum().clamp_min(1.0)


def train_denoiser(options: common.RunOptions, transformer: torch.nn.Module, text_encoder: torch.nn.Module,
                   make_batch: Callable[[int], Batch], *, train_text_encoder: bool, diffusion_forcing: bool,
                   export: Callable[[torch.nn.Module, torch.nn.Module], None], ema_decay: float = EMA_DECAY) -> None:
    """Run (or resume) the loop up to ``options.steps``; ``export(transformer, text_encoder)`` the weight
    average at the end."""
    device = torch.device(options.device)
    bundle = torch.nn.ModuleDict({"transformer": transformer, "text_encoder": text_encoder}).to(device)
    text_encoder.requires_grad_(train_text_encoder)
    trained = [p for p in bundle.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=options.lr, weight_decay=0.01, betas=(0.9, 0.99))
    training = common.Run(options, bundle, optimizer, common.EMA(bundle, ema_decay) if ema_decay > 0 else None)
    processors = use_padded_cross_attention(transformer)
    patch = tuple(transformer.config.patch_size)
    extra = {"enable_diffusion_forcing": True} if diffusion_forcing else {}
    bundle.train()

    def train_step(step: int) -> dict[str, float]:
        batch = make_batch(step)
        noise = torch.randn(batch.clean.shape, generator=common.step_generator(options.seed, step))
        noisy, target = noisy_and_target(batch.clean, noise, batch.sigmas)
        with torch.set_grad_enabled(train_text_encoder):
            states = encode(text_encoder, batch.ids.to(device), batch.mask.to(device), batch.ids.shape[1])
        timestep = model_timesteps(batch.sigmas, batch.clean.shape, patch, diffusion_forcing)
        prediction = transformer(hidden_states=noisy.to(device), timestep=timestep.to(device),
                                 encoder_hidden_states=short_text_states(states), return_dict=False, **extra)[0]
        weight = None if batch.frame_weight is None else batch.frame_weight.to(device)
        loss = flow_loss(prediction, target.to(device), weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        return {"loss": float(loss.detach())}

    if training.train(train_step):
        averaged = training.exported()
        restore_processors(averaged["transformer"], processors)  # diffusers' own attention in the saved model
        export(averaged["transformer"], averaged["text_encoder"])
        training.write(event="done", step=training.step, minutes=training.minutes)
