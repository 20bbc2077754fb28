"""The GPU benchmark scripts for the hook engine and sparse attention run end to end with --smoke."""

from __future__ import annotations

import json

import pytest
import torch

from mmcache.eval import bench_core, bench_sparse_dit


def test_bench_core_smoke_writes_every_ratio(tmp_path, capsys):
    out = tmp_path / "bench_core.json"
    assert bench_core.main(["--smoke", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    ratios = ["mmcache_never_reuse_step_ratio", "mmcache_reused_step_fraction", "mmcache_half_reused_run_ratio",
              "fbc_never_reuse_step_ratio", "fbc_reused_step_fraction"]
    assert all(result[name] > 0 for name in ratios)
    assert result["mmcache_reused_step_fraction"] < 1  # a reused step skips the transformer
    assert "mmcache enabled, never reusing / plain" in capsys.readouterr().out


def test_bench_sparse_dit_smoke_measures_each_density(tmp_path):
    out = tmp_path / "bench_sparse_dit.json"
    assert bench_sparse_dit.main(["--smoke", "--densities", "1.0,0.5", "--out", str(out)]) == 0
    scenarios = json.loads(out.read_text())["scenarios"]
    assert set(scenarios) == {"dense", "density=1.0", "density=0.5"}
    assert scenarios["density=0.5"]["measured_block_density"] < scenarios["density=1.0"]["measured_block_density"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
@pytest.mark.parametrize("script", [bench_core, bench_sparse_dit])
def test_without_cuda_each_script_explains_itself(script, capsys):
    assert script.main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
