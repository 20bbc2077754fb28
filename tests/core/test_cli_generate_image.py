"""`mmcache generate` on a next-scale-prediction model: images with a KV method, side by side with the plain cache."""

from __future__ import annotations

import json

import pytest
from PIL import Image

import mmcache
from mmcache.cli.main import main
from mmcache.pipelines.var.captions import calibration_captions


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    pipe = mmcache.pipelines.load("tiny:var")
    path = tmp_path_factory.mktemp("hack") / "hack.json"
    mmcache.calibrate(pipe, method="hack", prompts=calibration_captions(2), seeds=[0], progress=False).save(path)
    return str(path)


def test_compare_writes_images_and_kv_ratios(tmp_path, capsys, calibration):
    out = tmp_path / "i.png"
    assert main(["generate", "--model", "tiny:var", "--calibration", calibration, "--budget", "0.2", "--compare",
                 "--num-images", "2", "--timing-runs", "1", "--quiet", "--out", str(out),
                 "--stats-json", str(tmp_path / "s.json")]) == 0
    printed = capsys.readouterr().out
    assert "method hack" in printed and "KV peak" in printed and "PSNR" in printed
    assert Image.open(out).size == (2 * 256, 256) and Image.open(tmp_path / "i_compare.png").size == (512, 512)
    comparison = json.loads((tmp_path / "s.json").read_text())["comparison"]
    assert comparison["kv_bytes_held_ratio"] < 1 and comparison["attention_flops_ratio"] < 1


def test_keep_everything_is_lossless(tmp_path, capsys):
    assert main(["generate", "--model", "tiny:var", "--method", "scaletopk", "--budget", "1", "--compare",
                 "--timing-runs", "1", "--quiet", "--out", str(tmp_path / "i.png"),
                 "--stats-json", str(tmp_path / "s.json")]) == 0
    comparison = json.loads((tmp_path / "s.json").read_text())["comparison"]
    assert comparison["psnr_db"] == 100.0 and comparison["kv_bytes_peak_ratio"] == 1.0


@pytest.mark.parametrize("flags, message", [
    (["--frames", "9"], "--frames applies to video models"),
    (["--out", "x.mp4"], "writes a .png"),
    (["--method", "easycache"], "do not apply"),
    (["--method", "hack"], "needs calibration"),
])
def test_bad_requests(tmp_path, capsys, flags, message):
    assert main(["generate", "--model", "tiny:var", "--quiet", "--out", str(tmp_path / "i.png"), *flags]) == 1
    assert message in capsys.readouterr().err
