"""The training loop shared by toy-t2v and toy-df: flow matching on precomputed latents.

A trainer supplies ``make_batch(step)`` (clean latents, captions, noise levels, loss weights); this
loop noises, predicts the velocity with the transformer conditioned on the text encoder's states
(padding reproduced exactly, see ``padded_attention``), and keeps an EMA of the weights, which is
what gets evaluated and exported. Checkpoints make it resumable in time-boxed chunks.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np
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
    token_weight: torch.Tensor | None = None  # [B, F, h, w]: multiplies each latent token's error


Evaluate = Callable[[torch.nn.Module, torch.nn.Module, int], dict[str, Any]]
Export = Callable[[torch.nn.Module, torch.nn.Module], None]


def model_timesteps(sigmas: torch.Tensor, clean_shape: torch.Size, patch: tuple[int, int, int],
                    diffusion_forcing: bool) -> torch.Tensor:
    """The ``timestep`` argument for ``sigmas``: ``[B]`` as is; per-frame ``[B, F]`` stays per frame for a
    diffusion-forcing transformer and becomes per token ``[B, F·h·w / patch²]`` for Wan (Wan 2.2's
    per-token timesteps, e.g. a clean first frame)."""
    if sigmas.ndim == 2 and not diffusion_forcing:
        tokens_per_frame = (clean_shape[-2] // patch[1]) * (clean_shape[-1] // patch[2])
        sigmas = sigmas.repeat_interleave(tokens_per_frame, dim=1)
    return sigmas * NUM_TRAIN_TIMESTEPS


def flow_loss(prediction: torch.Tensor, target: torch.Tensor, frame_weight: torch.Tensor | None,
              token_weight: torch.Tensor | None = None) -> torch.Tensor:
    """The velocity MSE per latent frame, each token's error times ``token_weight`` where given, averaged
    over the frames with ``frame_weight``."""
    if token_weight is None:
        error = (prediction.float() - target).pow(2).mean(dim=(1, 3, 4))  # [B, F]
    else:
        error = ((prediction.float() - target).pow(2).mean(dim=1) * token_weight).mean(dim=(2, 3))
    if frame_weight is None:
        return error.mean()
    return (error * frame_weight).sum() / frame_weight.sum().clamp_min(1.0)


def train_denoiser(options: common.RunOptions, transformer: torch.nn.Module, text_encoder: torch.nn.Module,
                   make_batch: Callable[[int], Batch], *, train_text_encoder: bool, diffusion_forcing: bool,
                   evaluate: Evaluate, export: Export, weight_decay: float = 0.01,
                   ema_decay: float = EMA_DECAY) -> None:
    """Run (or resume) the loop up to ``options.steps``; export the EMA weights at the end."""
    device = torch.device(options.device)
    bundle = torch.nn.ModuleDict({"transformer": transformer, "text_encoder": text_encoder}).to(device)
    trained = bundle if train_text_encoder else torch.nn.ModuleDict({"transformer": transformer})
    text_encoder.requires_grad_(train_text_encoder)
    optimizer = torch.optim.AdamW(trained.parameters(), lr=options.lr, weight_decay=weight_decay, betas=(0.9, 0.99))
    ema = common.EMA(bundle, ema_decay)
    log = common.RunLog(options.out)
    step, elapsed = 0, 0.0
    state = common.load_checkpoint(options.out)
    if state is not None:
        bundle.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        ema.load_state_dict(state["ema"])
        step, elapsed = state["step"], state["elapsed"]
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)")
    timebox = common.TimeBox(options.max_minutes, options.checkpoint_minutes, elapsed, options.chunk_steps, step)
    log.write(event="start", step=step, params=sum(p.numel() for p in transformer.parameters()),
              text_params=sum(p.numel() for p in text_encoder.parameters()))

    def checkpoint() -> None:
        common.save_checkpoint(options.out, {"model": bundle.state_dict(), "optimizer": optimizer.state_dict(),
                                             "ema": ema.state_dict(), "step": step,
                                             "elapsed": timebox.total_elapsed})

    def ema_copies() -> tuple[torch.nn.Module, torch.nn.Module]:
        """The averaged transformer and text encoder (eval mode, diffusers' own attention processors)."""
        copies = ema.averaged_copy(bundle)
        restore_processors(copies["transformer"], processors)
        return copies["transformer"], copies["text_encoder"]

    processors = use_padded_cross_attention(transformer)
    bundle.train()
    tick, losses = time.monotonic(), []
    while step < options.steps:
        if common.pause_if_out_of_time(timebox, step, checkpoint, log):
            return
        common.set_lr(optimizer, common.cosine_lr(step, options.steps, options.lr))
        batch = make_batch(step)
        generator = common.step_generator(options.seed, step)
        noise = torch.randn(batch.clean.shape, generator=generator)
        noisy, target = noisy_and_target(batch.clean, noise, batch.sigmas)
        with torch.set_grad_enabled(train_text_encoder):
            states = encode(text_encoder, batch.ids.to(device), batch.mask.to(device), batch.ids.shape[1])
        kwargs = {"enable_diffusion_forcing": True} if diffusion_forcing else {}
        timestep = model_timesteps(batch.sigmas, batch.clean.shape, tuple(transformer.config.patch_size), diffusion_forcing)
        prediction = transformer(hidden_states=noisy.to(device), timestep=timestep.to(device),
                                 encoder_hidden_states=short_text_states(states), return_dict=False, **kwargs)[0]
        weight = None if batch.frame_weight is None else batch.frame_weight.to(device)
        tokens = None if batch.token_weight is None else batch.token_weight.to(device)
        loss = flow_loss(prediction, target.to(device), weight, tokens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
        optimizer.step()
        ema.update(trained, step)
        step += 1
        losses.append(float(loss.detach()))
        if step % 50 == 0:
            log.write(event="train", step=step, loss=float(np.mean(losses)), lr=optimizer.param_groups[0]["lr"],
                      sec_per_step=(time.monotonic() - tick) / 50, minutes=timebox.total_elapsed / 60)
            tick, losses = time.monotonic(), []
        if step % options.eval_every == 0 or step == options.steps:
            model, text = ema_copies()
            started = time.monotonic()
            metrics = evaluate(model, text, step)
            log.write(event="eval", step=step, seconds=time.monotonic() - started, **metrics)
            tick = time.monotonic()
        if timebox.checkpoint_due():
            checkpoint()
    checkpoint()
    model, text = ema_copies()
    export(model, text)
    log.write(event="done", step=step, minutes=timebox.total_elapsed / 60)
