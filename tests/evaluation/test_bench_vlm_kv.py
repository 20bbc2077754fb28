"""The VLM KV benchmark runs end to end on tiny video-QA models, resumes from its records and refuses bad flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mmcache.eval import bench_vlm_kv

TINY = ["--model", "tiny:vlm", "--clips", "2", "--calibration-clips", "2", "--budgets", "1", "0.25", "--quiet"]
COLUMNS = ("accuracy", "agreement with plain", "prompt KV kept", "ZipVL important tokens", "KV bytes held / full",
           "prefill attention FLOPs computed / dense", "answer time vs plain", "prefill time vs plain", "items")


def _stored(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_mtime_ns
            for sub in ("runs", "calibration") for path in (folder / sub).iterdir()}


def test_the_benchmark_writes_its_table_and_resumes(tmp_path):
    assert bench_vlm_kv.main([*TINY, "--zipvl-taus", "1", "0.9", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "results.json").read_text())["summary"]
    methods = ("prefixkv", "streamingllm", "snapkv", "pyramidkv")
    expected = {"plain", *(f"{method} {budget}" for method in methods for budget in ("1", "0.25")),
                *(f"zipvl {cache} tau {tau}" for cache in ("v2 drop", "v1 4/2-bit") for tau in ("1", "0.9"))}
    assert set(summary) == expected
    for label, row in summary.items():
        assert row["items"] == 8 and 0 <= row["accuracy"] <= 1 and 0 <= row["agreement"] <= 1, label
        assert 0 < row["prompt_kept"] <= 1 and 0 < row["kv_bytes"] <= 1 and row["flops"] > 0, label
        assert row["time"] > 0 and row["prefill_time"] > 0, label
    for label in ("plain", "zipvl v2 drop tau 1", *(f"{method} 1" for method in methods)):  # nothing dropped
        row = summary[label]
        assert (row["agreement"], row["prompt_kept"], row["kv_bytes"], row["flops"]) == (1, 1, 1, 1), label
    for method in ("prefixkv", "streamingllm", "snapkv"):  # these meet the budget on a ~40-token prompt
        assert abs(summary[f"{method} 0.25"]["prompt_kept"] - 0.25) < 0.05
    assert summary["zipvl v1 4/2-bit tau 0.9"]["kv_bytes"] < 0.5 and summary["zipvl v1 4/2-bit tau 0.9"]["prompt_kept"] == 1
    assert 0 < summary["zipvl v2 drop tau 0.9"]["important"] < 1 and summary["snapkv 1"]["important"] is None
    table = (tmp_path / "vlm_kv.md").read_text()
    assert table.startswith("Command: `python -m mmcache.eval.bench_vlm_kv --model tiny:vlm")
    assert all(column in table for column in COLUMNS) and "| zipvl v2 drop tau 0.9 |" in table
    stored = _stored(tmp_path)
    assert len([name for name in stored if name.startswith("calibration")]) == 1  # budget 1 needs none

    assert bench_vlm_kv.main([*TINY, "--zipvl-taus", "1", "0.9", "0.95", "--out", str(tmp_path)]) == 0
    again = _stored(tmp_path)
    assert {name: again[name] for name in stored} == stored  # nothing recomputed
    assert sorted(set(again) - set(stored)) == [f"runs/000{clip}-zipvl_v{v}_tau_0.95.json" for clip in (0, 1)
                                                for v in ("1_4_2_bit", "2_drop")]


def test_settings_that_drop_nothing_agree_with_the_plain_model(tmp_path):
    """On a random model whose answers depend on the clip, keeping every token agrees; a tenth of it does not."""
    from mmcache.pipelines import load

    pipe = load("tiny:vlm", device="cpu")
    with torch.no_grad():  # larger layer weights: attention over the clip outweighs the tied embeddings
        for name, parameter in pipe.model.named_parameters():
            if ".layers." in name and parameter.dim() == 2:
                parameter.mul_(3.0)
    pipe.save_pretrained(tmp_path / "model")
    assert bench_vlm_kv.main(["--model", str(tmp_path / "model"), "--clips", "2", "--calibration-clips", "1",
                              "--budgets", "1", "0.1", "--zipvl-taus", "1", "--zipvl-cache", "drop", "--quiet",
                              "--out", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "results.json").read_text())["summary"]
    unchanged = [label for label in summary if label.endswith((" 1", "plain"))]
    assert len(unchanged) == 6 and all(summary[label]["agreement"] == 1 for label in unchanged)
    assert min(summary[label]["agreement"] for label in summary if label.endswith(" 0.1")) < 1


@pytest.mark.parametrize("flags, message", [
    (["--budgets", "0"], "argument --budgets: 0 is not in (0, 1]"),
    (["--budgets", "0.5", "1.5"], "argument --budgets: 1.5 is not in (0, 1]"),
    (["--zipvl-taus", "nan"], "argument --zipvl-taus: nan is not in (0, 1]"),
    (["--clips", "0"], "--clips and --calibration-clips must be at least 1"),
    (["--model", "toy-t2v"], "is not a video-QA model"),
])
def test_bad_flags_get_one_error_line(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench_vlm_kv.main([*TINY, *flags, "--out", str(tmp_path)])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error and error.startswith("python -m mmcache.eval.bench_vlm_kv: error:")
