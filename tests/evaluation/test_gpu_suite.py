"""The GPU suite runs every registered benchmark in --smoke mode and reports each in JSON and markdown."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from mmcache.eval import gpu_benchmarks, gpu_suite


def test_smoke_run_writes_json_and_markdown_for_every_benchmark(tmp_path: Path, capsys) -> None:
    assert gpu_suite.main(["--smoke", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert report["smoke"] is True and report["machine"]["device"] == "cpu"
    assert list(report["benchmarks"]) == gpu_benchmarks.benchmark_names()
    for name, record in report["benchmarks"].items():
        assert record["status"] == "ok", (name, record.get("log_tail"))
        assert record["seconds"] > 0 and record["result"]
        assert (tmp_path / record["log"]).is_file()
    assert report["benchmarks"]["attention"]["result"]["backend"] == "triton"  # the kernels ran, interpreted
    text = (tmp_path / "gpu_suite.md").read_text()
    assert "Command: `python -m mmcache.eval.gpu_suite --smoke" in text
    for header in ("#### core:", "| mmcache enabled, never reusing / plain |", "#### attention:", "| vs Flex |",
                   "#### sparse-dit:", "| density=0.5 |", "#### flowcache:", "| compute saved |",
                   "#### vlm-prefill:", "| token_subset_attention |", "rel. error vs reference",
                   "#### var-kv:", "| KV held / plain |", "| hack 0.3 |"):
        assert header in text
    printed = capsys.readouterr().out
    assert [line.split("]")[0] for line in printed.splitlines() if line.startswith("[")] == [
        f"[{i}/{len(gpu_benchmarks.BENCHMARKS)}" for i in range(1, len(gpu_benchmarks.BENCHMARKS) + 1)]
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_time_limits_add_up_to_at_most_ten_minutes() -> None:
    assert sum(benchmark.gpu_timeout_s for benchmark in gpu_benchmarks.BENCHMARKS) <= 600


def test_a_failing_benchmark_is_recorded_and_the_rest_still_run(tmp_path: Path, monkeypatch) -> None:
    broken = dataclasses.replace(gpu_benchmarks.BENCHMARKS[0], name="broken", smoke_args=("--no-such-option",),
                                 markdown=None)
    core = gpu_benchmarks.BENCHMARKS[0]
    monkeypatch.setattr(gpu_suite, "BENCHMARKS", (broken, core))
    monkeypatch.setattr(gpu_benchmarks, "BENCHMARKS", (broken, core))
    assert gpu_suite.main(["--smoke", "--only", "broken,core", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert report["benchmarks"]["broken"]["status"] == "failed"
    assert report["benchmarks"]["broken"]["error"] == "exit code 2"
    assert any("--no-such-option" in line for line in report["benchmarks"]["broken"]["log_tail"])
    assert report["benchmarks"]["core"]["status"] == "ok"
    assert "**Failed**: exit code 2" in (tmp_path / "gpu_suite.md").read_text()


def test_unknown_benchmark_names_are_one_clear_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        gpu_suite.main(["--smoke", "--only", "nope", "--out", str(tmp_path)])
    assert "unknown benchmark(s) ['nope']; known: core, attention, sparse-dit" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_without_a_gpu_it_says_so_in_one_line(tmp_path: Path, capsys) -> None:
    assert gpu_suite.main(["--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "gpu_suite needs a CUDA GPU; --smoke runs every benchmark at tiny sizes on the CPU instead."]
    assert not (tmp_path / "gpu_suite.json").exists()


def test_a_benchmark_past_its_time_limit_is_stopped_and_recorded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(gpu_suite, "SMOKE_TIMEOUT_S", 1)  # less than the child needs to import torch
    assert gpu_suite.main(["--smoke", "--only", "core", "--out", str(tmp_path)]) == 1
    record = json.loads((tmp_path / "gpu_suite.json").read_text())["benchmarks"]["core"]
    assert record["status"] == "failed" and record["error"] == "stopped after its time limit of 1 s"
    assert record["seconds"] < 30
