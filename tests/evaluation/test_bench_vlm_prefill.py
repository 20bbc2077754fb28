"""The VLM prefill attention benchmark runs end to end on the CPU with --smoke (kernel interpreted)."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from mmcache.eval import bench_vlm_prefill


def test_smoke_run_times_dense_and_each_kept_fraction(tmp_path, capsys):
    out = tmp_path / "vlm_prefill.json"
    assert bench_vlm_prefill.main(["--smoke", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["backend"] == "triton"  # tests run with TRITON_INTERPRET=1: the real kernel ran
    assert [row["kept"] for row in result["checks"]] == [0.5, 0.25, 0.1]
    assert all(row["ok"] and row["rel_error"] < 2e-2 for row in result["checks"])
    methods = [(row["kept"], row["method"]) for row in result["timings"]]
    assert methods == [(1.0, "dense SDPA")] + [(kept, method) for kept in (0.5, 0.25, 0.1)
                                                for method in ("token_subset_attention", "gather + SDPA")]
    assert all(row["ms"] > 0 and row["speedup"] > 0 for row in result["timings"])
    pairs = [row["pairs"] for row in result["timings"][1::2]]
    assert pairs == sorted(pairs, reverse=True) and pairs[0] == pytest.approx(0.25, abs=0.01)
    assert "prefill attention" in capsys.readouterr().out


def test_kept_tokens_are_sorted_unique_and_end_with_the_last_token():
    keep = bench_vlm_prefill.kept_tokens(1000, 0.1, batch=2, seed=0)
    assert keep.shape == (2, 1, 100)
    assert (keep.diff(dim=-1) > 0).all() and (keep[..., -1] == 999).all()


def test_the_gathered_sdpa_path_matches_the_kernel_reference():
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(1, 4, 64, 32, generator=generator)
    k, v = (torch.randn(1, 2, 64, 32, generator=generator) for _ in range(2))
    keep = bench_vlm_prefill.kept_tokens(64, 0.5, batch=1, seed=1)
    expected = bench_vlm_prefill.token_subset_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), keep,
                                                        causal=True, backend="reference")
    assert torch.allclose(bench_vlm_prefill.gathered_sdpa(q, k, v, keep), expected.float(), atol=2e-2)


def test_kept_fractions_outside_zero_to_one_are_refused():
    with pytest.raises(argparse.ArgumentTypeError, match="fractions in"):
        bench_vlm_prefill.parse_fractions("0.5,1.5")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_without_cuda_it_exits_with_a_clear_message(capsys):
    assert bench_vlm_prefill.main([]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err
