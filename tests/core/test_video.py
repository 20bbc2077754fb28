"""Videos are browser-playable H.264, written atomically, and decode back faithfully."""

from __future__ import annotations

import numpy as np
import pytest

from mmcache.quality import psnr
from mmcache.video import read_mp4, side_by_side, upscale, video_codec, write_mp4


def smooth_video(frames=6, height=32, width=48):
    t = np.linspace(0, 1, frames)[:, None, None, None]
    x = np.linspace(0, 1, width)[None, None, :, None]
    y = np.linspace(0, 1, height)[None, :, None, None]
    return np.concatenate([x + 0 * y + 0 * t, y + 0 * x + 0 * t, (t + x) / 2 + 0 * y], axis=-1)


def test_written_video_is_h264_and_decodes_close_to_the_input(tmp_path):
    video = smooth_video()
    path = write_mp4(video, tmp_path / "a.mp4")
    assert video_codec(path) == "h264"
    decoded = read_mp4(path)
    assert decoded.shape == (6, 32, 48, 3)
    assert psnr(decoded, (video * 255 + 0.5).astype(np.uint8)) > 35
    assert not list(tmp_path.glob(".*")), "no temporary files left behind"


def test_odd_sizes_are_padded_to_even(tmp_path):
    decoded = read_mp4(write_mp4(smooth_video(3, 17, 21), tmp_path / "odd.mp4"))
    assert decoded.shape == (3, 18, 22, 3)


def test_side_by_side_and_upscale_shapes():
    a = smooth_video(2, 16, 16)
    both = side_by_side(a, a, ("left", "right"), gap=4)
    assert both.shape == (2, 16 + 14, 36, 3) and both.dtype == np.uint8
    assert upscale(both, 3).shape == (2, 90, 108, 3)
    with pytest.raises(ValueError):
        side_by_side(a, smooth_video(2, 8, 8))
