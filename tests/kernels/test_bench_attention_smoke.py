"""The GPU benchmark script runs end to end on the CPU with --smoke, and refuses to run without CUDA."""

from __future__ import annotations

import json

import pytest
import torch

from mmcache.eval import bench_attention


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_smoke_run_writes_a_complete_report(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert bench_attention.main(["--smoke", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["backend"] == "triton"  # the interpreter runs the real kernels
    assert [row["density"] for row in result["attention"]] == [1.0, 0.5]
    for row in result["attention"]:
        assert row["ours_ok"] and row["ours_err"] < 2e-2 and row["ours_ms"] > 0
        assert row["live"] == pytest.approx(row["density"], abs=0.01)
    sparse = result["attention"][1]  # N=256 has no ragged blocks: live FLOPs = live fraction x dense FLOPs
    assert sparse["ours_tflops"] == pytest.approx(sparse["ours_eff_tflops"] * sparse["live"], rel=1e-3)
    decode = {row["kv"]: row for row in result["decode"]}
    assert decode["4-bit g64"]["ratio_vs_bf16"] == pytest.approx(3.55, abs=0.01)
    assert all(row["ok"] for row in result["decode"][1:])
    assert {goal["result"] for goal in result["goals"]} <= {"PASS", "FAIL", "n/a"}
    printed = capsys.readouterr().out
    assert "block-sparse attention" in printed and "quantized decode attention" in printed
    assert not list(tmp_path.glob("*.tmp*"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_without_cuda_it_exits_with_a_clear_message(capsys):
    assert bench_attention.main(["--sizes", "1k"]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err


def test_sizes_accept_k_suffixes():
    assert bench_attention.parse_sizes("8k,32k,75k,1000") == [8192, 32768, 76800, 1000]
