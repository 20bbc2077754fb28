"""The multi-scale residual VQ tokenizer of next-scale prediction (VAR's ``VQVAE``), small and convolutional.

An image is encoded to a feature map ``f`` (``[B, C, 8, 8]`` for 64×64 images); then, for each scale
``pn`` in ``patch_nums`` (e.g. 1, 2, 3, 4, 6, 8), the residual ``f - f_hat`` is area-downsampled to
``pn × pn``, each vector is replaced by its nearest code of one shared codebook, the codes are upsampled
(bicubic) back to 8×8, passed through ``quant_resi`` (a 3×3 convolution mixed in at 0.5, VAR's φ) and added
to ``f_hat``. The token maps of all scales together are the image's tokens; ``f_hat`` after the last scale
decodes to the image. Module names follow VAR (``encoder``, ``quant_conv``, ``quantize.embedding``,
``quantize.quant_resi``, ``post_quant_conv``, ``decoder``).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(in_channels), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2, self.conv2 = _norm(out_channels), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class Encoder(nn.Module):
    """Image ``[B, 3, H, W]`` → features ``[B, z, H / 2^len(channels), W / 2^len(channels)]``."""

    def __init__(self, channels: tuple[int, ...], z_channels: int, num_res_blocks: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)
        layers: list[nn.Module] = []
        previous = channels[0]
        for width in channels:
            layers += [ResBlock(previous if i == 0 else width, width) for i in range(num_res_blocks)]
            layers.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
            previous = width
        self.down = nn.Sequential(*layers)
        self.mid = ResBlock(previous, previous)
        self.norm_out, self.conv_out = _norm(previous), nn.Conv2d(previous, z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(F.silu(self.norm_out(self.mid(self.down(self.conv_in(x))))))


class Decoder(nn.Module):
    """Features → image, the encoder mirrored (nearest upsampling and a convolution per level)."""

    def __init__(self, channels: tuple[int, ...], z_channels: int, num_res_blocks: int) -> None:
        super().__init__()
        widths = list(reversed(channels))
        self.conv_in = nn.Conv2d(z_channels, widths[0], 3, padding=1)
        self.mid = ResBlock(widths[0], widths[0])
        layers: list[nn.Module] = []
        previous = widths[0]
        for width in widths:
            layers += [ResBlock(previous if i == 0 else width, width) for i in range(num_res_blocks)]
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, padding=1)]
            previous = width
        self.up = nn.Sequential(*layers)
        self.norm_out, self.conv_out = _norm(previous), nn.Conv2d(previous, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv_out(F.silu(self.norm_out(self.up(self.mid(self.conv_in(z))))))


class Phi(nn.Conv2d):
    """VAR's φ: ``h·(1 − r) + conv(h)·r``, applied to each scale's upsampled codes."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__(channels, channels, 3, padding=1)
        self.ratio = ratio

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * (1 - self.ratio) + super().forward(h) * self.ratio


@dataclasses.dataclass
class QuantizerOutput:
    f_hat: torch.Tensor  # [B, C, H, W], the sum of every scale's upsampled codes
    indices: list[torch.Tensor]  # per scale, [B, pn * pn]
    loss: torch.Tensor  # codebook + β · commitment, averaged over scales
    residuals: torch.Tensor  # [N, C], the vectors that were quantized (to restart unused codes from)


class MultiScaleQuantizer(nn.Module):
    """Residual quantization over ``patch_nums`` scales with one shared codebook (``embedding``)."""

    def __init__(self, vocab_size: int, z_channels: int, patch_nums: tuple[int, ...], beta: float,
                 quant_resi: float) -> None:
        super().__init__()
        self.patch_nums, self.beta = tuple(patch_nums), beta
        self.embedding = nn.Embedding(vocab_size, z_channels)
        nn.init.uniform_(self.embedding.weight, -1.0 / vocab_size, 1.0 / vocab_size)
        self.quant_resi = Phi(z_channels, quant_resi)
        self.register_buffer("code_usage", torch.zeros(vocab_size))  # running hits per code and step (training)

    def upsampled(self, h: torch.Tensor, size: int) -> torch.Tensor:
        """One scale's code map ``[B, C, pn, pn]`` as it is added to ``f_hat`` (``[B, C, size, size]``)."""
        if h.shape[-1] != size:
            h = F.interpolate(h, size=(size, size), mode="bicubic")
        return self.quant_resi(h)

    def codes(self, indices: torch.Tensor, pn: int) -> torch.Tensor:
        """Token ids ``[B, pn * pn]`` → code map ``[B, C, pn, pn]``."""
        return self.embedding(indices).transpose(1, 2).reshape(indices.shape[0], -1, pn, pn)

    def nearest(self, vectors: torch.Tensor) -> torch.Tensor:
        weight = self.embedding.weight.detach()
        distance = vectors.square().sum(1, keepdim=True) + weight.square().sum(1) - 2 * vectors @ weight.T
        return distance.argmin(1)

    def forward(self, f: torch.Tensor) -> QuantizerOutput:
        B, C, H, W = f.shape
        if (H, W) != (self.patch_nums[-1],) * 2:
            raise ValueError(f"Features of {H}×{W} do not match the last scale {self.patch_nums[-1]}; encode images "
                             f"of {self.patch_nums[-1]}× the encoder's downsampling factor.")
        rest, f_hat = f.detach().clone(), torch.zeros_like(f)
        indices, residuals, loss = [], [], f.new_zeros(())
        for pn in self.patch_nums:
            vectors = F.interpolate(rest, size=(pn, pn), mode="area").permute(0, 2, 3, 1).reshape(-1, C)
            index = self.nearest(vectors).view(B, pn * pn)
            h = self.upsampled(self.codes(index, pn), H)
            f_hat = f_hat + h
            rest = rest - h.detach()
            indices.append(index)
            residuals.append(vectors)
            if self.training:
                self.code_usage.mul_(0.99).add_(index.flatten().bincount(minlength=len(self.code_usage)), alpha=0.01)
            loss = loss + F.mse_loss(f_hat, f.detach()) + self.beta * F.mse_loss(f_hat.detach(), f)
        return QuantizerOutput(f_hat, indices, loss / len(self.patch_nums), torch.cat(residuals))

    @torch.no_grad()
    def restart_unused_codes(self, residuals: torch.Tensor, generator: torch.Generator, min_usage: float = 0.03) -> int:
        """Moves codes hit less than ``min_usage`` times per step (running average) onto random ``residuals``."""
        dead = (self.code_usage < min_usage).nonzero().flatten()
        if len(dead):
            picks = torch.randint(len(residuals), (len(dead),), generator=generator).to(residuals.device)
            self.embedding.weight[dead] = residuals[picks].to(self.embedding.weight.dtype)
            self.code_usage[dead] = 1.0
        return len(dead)

    def fhat_from_indices(self, indices: list[torch.Tensor]) -> torch.Tensor:
        size = self.patch_nums[-1]
        return sum(self.upsampled(self.codes(index, pn), size) for index, pn in zip(indices, self.patch_nums))

    def next_scale_input(self, si: int, f_hat: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Adds scale ``si``'s code map to ``f_hat``; returns it and ``f_hat`` area-downsampled to the next scale
        (VAR's ``get_next_autoregressive_input``; after the last scale the second value is ``f_hat`` itself)."""
        f_hat = f_hat + self.upsampled(codes, f_hat.shape[-1])
        following = self.patch_nums[min(si + 1, len(self.patch_nums) - 1)]
        return f_hat, F.interpolate(f_hat, size=(following, following), mode="area")

    def teacher_forcing_input(self, indices: list[torch.Tensor]) -> torch.Tensor:
        """The transformer's inputs for scales 1 … S−1 from the true tokens, ``[B, L − 1, C]`` (VAR's
        ``idxBl_to_var_input``): scale k's input is ``f_hat`` of scales < k, area-downsampled to scale k."""
        B, size = indices[0].shape[0], self.patch_nums[-1]
        f_hat = self.embedding.weight.new_zeros(B, self.embedding.embedding_dim, size, size)
        inputs = []
        for si, (index, pn) in enumerate(zip(indices[:-1], self.patch_nums)):
            f_hat, following = self.next_scale_input(si, f_hat, self.codes(index, pn))
            inputs.append(following.flatten(2).transpose(1, 2))
        return torch.cat(inputs, dim=1)


class MultiScaleVQVAE(ModelMixin, ConfigMixin):
    """Image ↔ multi-scale tokens. ``forward`` (training) returns the reconstruction, the VQ loss and the
    quantizer output; ``encode_indices`` / ``decode_fhat`` are what the pipeline and training use."""

    @register_to_config
    def __init__(self, channels: tuple[int, ...] = (32, 64, 128), num_res_blocks: int = 1, z_channels: int = 16,
                 vocab_size: int = 256, patch_nums: tuple[int, ...] = (1, 2, 3, 4, 6, 8), beta: float = 0.25,
                 quant_resi: float = 0.5) -> None:
        super().__init__()
        channels, patch_nums = tuple(channels), tuple(patch_nums)
        self.encoder = Encoder(channels, z_channels, num_res_blocks)
        self.quant_conv = nn.Conv2d(z_channels, z_channels, 3, padding=1)
        self.quantize = MultiScaleQuantizer(vocab_size, z_channels, patch_nums, beta, quant_resi)
        self.post_quant_conv = nn.Conv2d(z_channels, z_channels, 3, padding=1)
        self.decoder = Decoder(channels, z_channels, num_res_blocks)

    @property
    def image_size(self) -> int:
        return self.config.patch_nums[-1] * 2 ** len(self.config.channels)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput]:
        f = self.quant_conv(self.encoder(images))
        quantized = self.quantize(f)
        straight_through = quantized.f_hat.detach() - f.detach() + f
        return self.decoder(self.post_quant_conv(straight_through)), quantized

    @torch.no_grad()
    def encode_indices(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Images ``[B, 3, H, W]`` in [-1, 1] → token ids per scale, ``[B, pn * pn]`` each."""
        return self.quantize(self.quant_conv(self.encoder(images))).indices

    def decode_fhat(self, f_hat: torch.Tensor) -> torch.Tensor:
        """Accumulated codes → images in [-1, 1] (VAR's ``fhat_to_img``)."""
        return self.decoder(self.post_quant_conv(f_hat)).clamp(-1, 1)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode_fhat(self.quantize.fhat_from_indices(self.encode_indices(images)))
