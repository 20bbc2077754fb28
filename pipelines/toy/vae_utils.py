"""Helpers around ``AutoencoderKLWan`` for training and evaluation."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKLWan

from .data import to_model_range


def decode_unclamped(vae: AutoencoderKLWan, z: torch.Tensor) -> torch.Tensor:
    """``vae.decode`` without the final clamp to [-1, 1], so that every pixel gets a gradient.

    Decodes one latent frame at a time through the causal feature cache, exactly like ``_decode``.
    """
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    outputs = []
    for index in range(z.shape[2]):
        vae._conv_idx = [0]
        outputs.append(vae.decoder(x[:, :, index:index + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx,
                                   first_chunk=index == 0))
    vae.clear_cache()
    return torch.cat(outputs, dim=2)


@torch.no_grad()
def encode_mean(vae: AutoencoderKLWan, video: torch.Tensor) -> torch.Tensor:
    """Posterior means (unnormalised latents) of ``[B, 3, T, H, W]`` videos in [-1, 1]."""
    return vae.encode(video).latent_dist.mode()


def denormalise(latents: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Normalised latents ``[B, C, ...]`` (the denoisers' space, WanPipeline's convention) → the VAE's raw
    latents, with the per-channel ``mean`` and ``std`` of the VAE's config."""
    shape = (1, -1) + (1,) * (latents.ndim - 2)
    m, s = (torch.tensor(values, dtype=latents.dtype, device=latents.device).view(shape) for values in (mean, std))
    return latents * s + m


def psnr(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB of uint8 videos (peak 255)."""
    mse = np.mean((reference.astype(np.float64) - reconstruction.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """``[B, 3, T, H, W]`` in [-1, 1] → uint8 ``[B, T, H, W, 3]``."""
    array = ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return np.moveaxis(array, 1, -1)


@torch.no_grad()
def reconstruction_psnr(vae: AutoencoderKLWan, frames: np.ndarray, device: torch.device | str = "cpu",
                        batch_size: int = 4) -> list[float]:
    """PSNR of encode (posterior mean) → decode for each uint8 clip ``[N, T, H, W, 3]``."""
    scores = []
    for start in range(0, len(frames), batch_size):
        chunk = frames[start:start + batch_size]
        video = torch.from_numpy(to_model_range(chunk)).to(device)
        decoded = vae.decode(encode_mean(vae, video)).sample
        scores += [psnr(a, b) for a, b in zip(chunk, to_uint8(decoded))]
    return scores
