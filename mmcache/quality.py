"""Fidelity of a cached video against its uncached baseline, as the cache papers compute it.

PSNR: per frame 20·log10(1/√MSE) on [0, 1] frames, averaged over frames (a frame identical to
its reference scores ``PSNR_CAP``). SSIM: Gaussian window 11×11, σ = 1.5, K1 = 0.01, K2 = 0.03,
data range 1, computed per channel over the valid region and averaged over channels and frames.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

PSNR_CAP = 100.0


def as_float_frames(video: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A video as float64 ``[T, C, H, W]`` in [0, 1], from uint8 or float ``[T, H, W, C]`` (or one image)."""
    tensor = torch.as_tensor(np.asarray(video) if not isinstance(video, torch.Tensor) else video)
    if tensor.dtype == torch.uint8:
        tensor = tensor.double() / 255.0
    tensor = tensor.double()
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4:
        raise ValueError(f"Expected frames shaped [T, H, W, C] or [H, W, C], got {tuple(tensor.shape)}.")
    return tensor.permute(0, 3, 1, 2)


def _check_same_shape(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"Videos differ in shape: {tuple(a.shape)} vs {tuple(b.shape)} ([T, C, H, W]).")


def psnr_per_frame(video: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor) -> list[float]:
    """PSNR of each frame of ``video`` against ``reference``, in dB."""
    a, b = as_float_frames(video), as_float_frames(reference)
    _check_same_shape(a, b)
    mse = ((a - b) ** 2).flatten(1).mean(dim=1)
    return [PSNR_CAP if value == 0 else min(PSNR_CAP, -10.0 * math.log10(value)) for value in mse.tolist()]


def psnr(video: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor) -> float:
    """Mean per-frame PSNR in dB (``PSNR_CAP`` for identical videos)."""
    values = psnr_per_frame(video, reference)
    return float(sum(values) / len(values))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def ssim_per_frame(video: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor,
                   window: int = 11, sigma: float = 1.5) -> list[float]:
    """SSIM of each frame (mean over channels and the valid window positions)."""
    a, b = as_float_frames(video), as_float_frames(reference)
    _check_same_shape(a, b)
    if min(a.shape[-2:]) < window:
        raise ValueError(f"Frames of {tuple(a.shape[-2:])} are smaller than the {window}x{window} SSIM window.")
    frames, channels = a.shape[:2]
    g = _gaussian_window(window, sigma)
    kernel = (g[:, None] * g[None, :]).expand(channels, 1, window, window).contiguous()

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, kernel, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.flatten(1).mean(dim=1).tolist()


def ssim(video: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor) -> float:
    """Mean SSIM over frames."""
    values = ssim_per_frame(video, reference)
    return float(sum(values) / len(values))
