"""`mmcache generate`: writes playable videos, prints speedup and fidelity, rejects bad input."""

from __future__ import annotations

import json

import pytest

from mmcache.cli.main import main
from mmcache.video import read_mp4, video_codec

TINY = ["--model", "tiny:wan2.1-t2v", "--steps", "8", "--quiet"]


def test_compare_writes_three_videos_and_a_report(tmp_path, capsys):
    out = tmp_path / "v.mp4"
    code = main(["generate", *TINY, "--compare", "--threshold", "0.5", "--warmup-steps", "2",
                 "--out", str(out), "--stats-json", str(tmp_path / "s.json")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "speedup: wall" in printed and "PSNR" in printed and "SSIM" in printed
    for name in ("v.mp4", "v_baseline.mp4", "v_compare.mp4"):
        assert video_codec(tmp_path / name) == "h264"
        assert read_mp4(tmp_path / name).shape[0] == 5
    report = json.loads((tmp_path / "s.json").read_text())
    comparison = report["comparison"]
    assert report["stats"]["calls"] == 16
    assert comparison["baseline_denoiser_calls"] == 16
    assert comparison["cached_denoiser_calls_computed"] == report["stats"]["computed"] < 16
    assert comparison["denoiser_call_speedup"] == pytest.approx(16 / report["stats"]["computed"])
    assert 0 < comparison["ssim"] <= 1 and comparison["psnr_db"] > 10


def test_never_reusing_compare_is_lossless(tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["generate", *TINY, "--compare", "--threshold", "0", "--out", str(out),
                 "--stats-json", str(tmp_path / "s.json")]) == 0
    comparison = json.loads((tmp_path / "s.json").read_text())["comparison"]
    assert comparison["psnr_db"] == 100.0 and comparison["ssim"] == pytest.approx(1.0)
