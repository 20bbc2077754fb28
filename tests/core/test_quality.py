"""PSNR and SSIM as the cache papers compute them, checked against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmcache.quality import PSNR_CAP, psnr, psnr_per_frame, ssim


def test_identical_videos_score_the_cap_and_one():
    video = np.random.default_rng(0).random((4, 32, 32, 3))
    assert psnr(video, video) == PSNR_CAP
    assert ssim(video, video) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("sigma", [0.01, 0.05, 0.1])
def test_known_noise_level_gives_the_expected_psnr(sigma):
    rng = np.random.default_rng(1)
    clean = np.full((3, 64, 64, 3), 0.5)
    noise = rng.choice([-sigma, sigma], size=clean.shape)  # exact MSE = sigma^2
    assert psnr(clean + noise, clean) == pytest.approx(20 * math.log10(1 / sigma), abs=1e-9)


def test_psnr_is_per_frame_then_averaged():
    reference = np.zeros((2, 16, 16, 3))
    video = reference.copy()
    video[1] += 0.1
    values = psnr_per_frame(video, reference)
    assert values[0] == PSNR_CAP and values[1] == pytest.approx(20.0)
    assert psnr(video, reference) == pytest.approx((PSNR_CAP + 20.0) / 2)


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b = 0.2, 0.6
    c1 = 0.01**2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(np.full((1, 20, 20, 3), a), np.full((1, 20, 20, 3), b)) == pytest.approx(expected, rel=1e-9)


def test_ssim_drops_with_noise_and_accepts_uint8():
    rng = np.random.default_rng(2)
    clean = np.broadcast_to(np.linspace(0, 255, 32)[None, None, :, None], (2, 32, 32, 3)).astype(np.uint8)
    noisy = np.clip(clean.astype(int) + rng.integers(-40, 40, clean.shape), 0, 255).astype(np.uint8)
    value = ssim(noisy, clean)
    assert 0.0 < value < 0.5
    assert ssim(torch.as_tensor(clean), clean) == pytest.approx(1.0)


def test_shape_mismatch_and_tiny_frames_raise():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(np.zeros((2, 8, 8, 3)), np.zeros((3, 8, 8, 3)))
    with pytest.raises(ValueError, match="smaller than"):
        ssim(np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8, 3)))
