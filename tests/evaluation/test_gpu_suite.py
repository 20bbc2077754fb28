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


FAKE_BENCHMARKS = '''
import json, os, sys, time
from pathlib import Path


def _write(argv, result):
    Path(argv[argv.index("--out") + 1]).write_text(json.dumps(result))


def checks_fail(argv):
    _write(argv, {"value": 1.5})
    print("a check FAILED")
    return 1


def partial_then_hang(argv):
    _write(argv, {"value": 1.5, "partial": True})
    print("measured the first scenario")
    Path(argv[argv.index("--out") + 1]).with_suffix(".pid").write_text(str(os.getpid()))
    time.sleep(120)


def ok(argv):
    names = ("PYTHONUNBUFFERED", "TRITON_INTERPRET")
    _write(argv, {"value": 2.5, "env": {name: os.environ.get(name) for name in names}})
    return 0
'''


@pytest.fixture
def fake_suite(tmp_path: Path, monkeypatch):
    """Installs fast fake entries (no torch in the child) named after their function in ``fake_benchmarks``."""
    (tmp_path / "fake_benchmarks.py").write_text(FAKE_BENCHMARKS)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))

    def install(*functions: str) -> None:
        entries = tuple(gpu_benchmarks.GpuBenchmark(name, f"fake {name}", f"fake_benchmarks:{name}", ("--gpu",), (),
                                                    gpu_timeout_s=30) for name in functions)
        monkeypatch.setattr(gpu_suite, "BENCHMARKS", entries)
        monkeypatch.setattr(gpu_benchmarks, "BENCHMARKS", entries)

    return install


def test_a_benchmark_that_fails_its_checks_keeps_its_results(tmp_path: Path, fake_suite) -> None:
    fake_suite("checks_fail", "ok")
    assert gpu_suite.main(["--smoke", "--out", str(tmp_path / "run")]) == 1
    report = json.loads((tmp_path / "run" / "gpu_suite.json").read_text())
    record = report["benchmarks"]["checks_fail"]
    assert (record["status"], record["outcome"], record["error"]) == ("failed", "checks failed", "exit code 1")
    assert record["result"] == {"value": 1.5} and record["partial"] is False
    assert "a check FAILED" in record["log_tail"]
    assert report["benchmarks"]["ok"]["outcome"] == "ok"
    text = (tmp_path / "run" / "gpu_suite.md").read_text()
    assert "**Checks failed**: exit code 1" in text and "| value | 1.5 |" in text


def test_a_benchmark_stopped_at_its_limit_keeps_its_partial_results_and_output(tmp_path: Path, fake_suite,
                                                                               monkeypatch) -> None:
    fake_suite("partial_then_hang")
    monkeypatch.setattr(gpu_suite, "SMOKE_TIMEOUT_S", 5)
    assert gpu_suite.main(["--smoke", "--out", str(tmp_path / "run")]) == 1
    record = json.loads((tmp_path / "run" / "gpu_suite.json").read_text())["benchmarks"]["partial_then_hang"]
    assert (record["outcome"], record["exit_code"], record["partial"]) == ("timed out", None, True)
    assert record["result"]["value"] == 1.5
    assert "measured the first scenario" in record["log_tail"]  # unbuffered: printed before the kill
    assert "**Timed out**: stopped after its time limit of 5 s" in (tmp_path / "run" / "gpu_suite.md").read_text()


def test_on_the_gpu_the_child_compiles_the_kernels_and_writes_unbuffered(tmp_path: Path, fake_suite,
                                                                        monkeypatch) -> None:
    fake_suite("ok")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    record = gpu_suite.run_benchmark(gpu_benchmarks.BENCHMARKS[0], tmp_path, smoke=False)
    assert record["arguments"] == ["--gpu"] and record["timeout_s"] == 30
    assert record["result"]["env"] == {"PYTHONUNBUFFERED": "1", "TRITON_INTERPRET": None}


def test_a_sigterm_to_the_suite_stops_the_running_benchmark(tmp_path: Path, fake_suite) -> None:
    import os
    import signal
    import threading
    import time

    fake_suite("partial_then_hang")
    pid_file = tmp_path / "run" / "results" / "partial_then_hang.pid"

    def terminate_once_started() -> None:
        deadline = time.monotonic() + 60
        while not pid_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    handler = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=terminate_once_started, daemon=True).start()
    with pytest.raises(SystemExit):
        gpu_suite.main(["--smoke", "--out", str(tmp_path / "run")])
    assert signal.getsignal(signal.SIGTERM) == handler
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_a_second_run_into_the_same_folder_merges_its_entries(tmp_path: Path, fake_suite) -> None:
    fake_suite("ok", "checks_fail")
    out = str(tmp_path / "run")
    assert gpu_suite.main(["--smoke", "--only", "ok", "--out", out]) == 0
    assert gpu_suite.main(["--smoke", "--only", "checks_fail", "--out", out]) == 1
    assert gpu_suite.main(["--smoke", "--only", "ok", "--out", out]) == 0
    report = json.loads((tmp_path / "run" / "gpu_suite.json").read_text())
    assert list(report["benchmarks"]) == ["ok", "checks_fail"]
    assert [run["benchmarks"] for run in report["runs"]] == [["ok"], ["checks_fail"], ["ok"]]
    assert report["command"].endswith("--only ok --out " + out)
    text = (tmp_path / "run" / "gpu_suite.md").read_text()
    assert text.count("Command: `python -m mmcache.eval.gpu_suite --smoke --only") == 3
    assert "#### ok:" in text and "#### checks_fail:" in text


def test_a_smoke_run_is_never_merged_into_a_gpu_report(tmp_path: Path, fake_suite, capsys) -> None:
    fake_suite("ok")
    (tmp_path / "gpu_suite.json").write_text(json.dumps({"smoke": False, "benchmarks": {}}))
    with pytest.raises(SystemExit):
        gpu_suite.main(["--smoke", "--out", str(tmp_path)])
    assert "holds a GPU run and this is a smoke run; choose another --out" in capsys.readouterr().err


def test_with_work_elsewhere_the_output_folder_holds_only_the_report(tmp_path: Path, fake_suite) -> None:
    fake_suite("ok", "checks_fail")
    gpu_suite.main(["--smoke", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")])
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["gpu_suite.json", "gpu_suite.md"]
    assert (tmp_path / "work" / "logs" / "ok.log").is_file()


def test_help_gives_examples_limits_and_the_two_call_split(capsys) -> None:
    with pytest.raises(SystemExit):
        gpu_suite.main(["--help"])
    text = capsys.readouterr().out
    assert "--only core,attention,sparse-dit" in text and "--only vlm-prefill,var-kv,flowcache" in text
    assert "flowcache 150 s" in text and "merged" in text
