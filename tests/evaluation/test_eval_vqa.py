"""`mmcache eval --task vqa` end to end on a tiny video-QA model: results, report, resume, damaged records, lock,
failed clips, --retry-failed and --report-only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import mmcache.eval.vqa_evaluation as vqa_evaluation
import mmcache.pipelines.loader as loader
from mmcache.cli.main import main
from mmcache.eval.folder_lock import FolderLock

from .helpers import ConfigCalls, copy_without_reports, refuse_loading

METHODS = "snapkv:budget=0.1,prefixkv:budget=0.25"
KEEP_ALL = "snapkv:budget=1.0,zipvl:tau=1.0,drop_unimportant=true,important_bits=16"
COLUMNS = ("| method | accuracy | colour | shape | direction | background | agreement with plain | prompt KV kept | "
           "KV bytes held / plain | prefill attention FLOPs / dense | answer time vs plain (median) | items | clips |")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tiny:vlm with larger layer weights, saved: attention over the clip outweighs the tied embeddings, so its
    answers depend on the clip and dropping most of the prompt's KV changes some of them."""
    folder = tmp_path_factory.mktemp("model") / "vlm"
    pipe = loader.load("tiny:vlm", device="cpu")
    with torch.no_grad():
        for name, parameter in pipe.model.named_parameters():
            if ".layers." in name and parameter.dim() == 2:
                parameter.mul_(3.0)
    pipe.save_pretrained(folder)
    return str(folder)


def vqa(model: str, out: Path, methods: str = METHODS, *extra: str) -> int:
    return main(["eval", "--task", "vqa", "--quiet", "--model", model, "--clips", "2", "--calibration-clips", "1",
                 "--methods", methods, "--out", str(out), *extra])


def stored(out: Path) -> dict[str, int]:
    return {path.relative_to(out).as_posix(): path.stat().st_mtime_ns
            for folder in ("items", "calibration") for path in (out / folder).rglob("*.json")}


@pytest.fixture(scope="module")
def finished(model: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    assert vqa(model, out) == 0
    return out


def test_a_run_writes_results_and_a_report_with_every_column(finished):
    results = json.loads((finished / "results.json").read_text())
    summary = results["summary"]
    assert list(summary) == ["plain", "snapkv-budget=0.1", "prefixkv-budget=0.25"]
    for label, row in summary.items():
        assert row["items"] == 8 and 0 <= row["accuracy"] <= 1, label
        assert set(row["by_kind"]) == {"colour", "shape", "direction", "background"}, label
        assert 0 < row["prompt_kept"] <= 1 and 0 < row["kv_bytes"] <= 1 and row["flops"] > 0 and row["time"] > 0
    assert summary["plain"]["agreement"] == 1 and summary["plain"]["kv_bytes"] == 1
    assert summary["snapkv-budget=0.1"]["prompt_kept"] < 0.2 and summary["snapkv-budget=0.1"]["agreement"] < 1
    assert abs(summary["prefixkv-budget=0.25"]["prompt_kept"] - 0.25) < 0.05
    calibration = results["run"]["calibrations"]["prefixkv-budget=0.25"]
    assert calibration.endswith("-budget0.25-clips1.json") and (finished / "calibration" / calibration).is_file()
    assert len(results["clips"]) == 2 and len(results["clips"][0]["answers"]["plain"]) == 4
    report = (finished / "report.md").read_text()
    assert COLUMNS in report and "| `prefixkv-budget=0.25` |" in report
    assert set(stored(finished)) == {f"calibration/{calibration}", *(f"items/{label}/clip-000{clip}.json"
                                                                     for label in summary for clip in (0, 1))}
    assert not (finished / ".mmcache-eval.lock").exists()


def test_a_rerun_does_no_new_work_and_adds_only_new_clips(finished, model, tmp_path, monkeypatch):
    before = stored(finished)
    refuse_loading(monkeypatch)
    assert vqa(model, finished) == 0
    assert stored(finished) == before
    monkeypatch.undo()
    assert main(["eval", "--task", "vqa", "--quiet", "--model", model, "--clips", "3", "--calibration-clips", "1",
                 "--methods", METHODS, "--out", str(finished)]) == 0
    after = stored(finished)
    assert {name: after[name] for name in before} == before
    assert sorted(set(after) - set(before)) == [f"items/{label}/clip-0002.json" for label in
                                                ("plain", "prefixkv-budget=0.25", "snapkv-budget=0.1")]


def test_a_damaged_record_is_answered_again_with_a_notice(finished, model, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    before = stored(out)
    damaged = out / "items" / "snapkv-budget=0.1" / "clip-0001.json"
    record = json.loads(damaged.read_text())
    damaged.write_text(json.dumps({**record, "answers": record["answers"][:2]}))
    assert vqa(model, out) == 0
    notices = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(notices) == 1 and "field 'answers': expected 4 answers, got 2. It will be answered again." in notices[0]
    after = stored(out)
    assert {name for name in before if after[name] != before[name]} == {"items/snapkv-budget=0.1/clip-0001.json"}
    assert len(json.loads(damaged.read_text())["answers"]) == 4


def test_methods_that_drop_nothing_agree_with_the_plain_model(model, tmp_path):
    assert vqa(model, tmp_path / "run", KEEP_ALL) == 0
    summary = json.loads((tmp_path / "run" / "results.json").read_text())["summary"]
    assert len(summary) == 3
    for label, row in summary.items():
        assert (row["agreement"], row["prompt_kept"], row["kv_bytes"]) == (1, 1, 1), label
        assert row["accuracy"] == summary["plain"]["accuracy"], label
    assert not (tmp_path / "run" / "calibration").exists()


def test_a_busy_folder_is_refused_in_one_line(model, tmp_path, capsys):
    with FolderLock(tmp_path / "run"):
        assert vqa(model, tmp_path / "run") == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "is in use by process" in lines[0]
    assert not (tmp_path / "run" / "items").exists()


def test_another_model_needs_force(finished, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    assert vqa("tiny:vlm", out) == 1
    assert "holds results for other settings (model: " in capsys.readouterr().err
    assert vqa("tiny:vlm", out, "snapkv:budget=0.5", "--force") == 0
    assert sorted(path.name for path in (out / "items").iterdir()) == ["plain", "snapkv-budget=0.5"]
    assert not (out / "calibration").exists()


def answers(monkeypatch: pytest.MonkeyPatch, fail_at: int = 0) -> ConfigCalls:
    """Counts the evaluation's ``answer_clip`` calls; the ``fail_at``-th under a SnapKV config raises."""
    return ConfigCalls(monkeypatch, vqa_evaluation, "answer_clip", 3, "SnapKVConfig", fail_at,
                       "out of memory on this clip")


def test_a_failed_clip_is_recorded_and_only_retry_failed_answers_it_again(model, tmp_path, monkeypatch):
    out, label = tmp_path / "run", "snapkv-budget=0.5"
    answers(monkeypatch, fail_at=2)  # the second clip
    assert vqa(model, out, "snapkv:budget=0.5") == 0
    record = json.loads((out / "items" / label / "clip-0001.json").read_text())
    assert record["status"] == "failed" and record["error"] == "RuntimeError: out of memory on this clip"
    row = json.loads((out / "results.json").read_text())["summary"][label]
    assert (row["planned"], row["done"], row["failed"], row["missing"], row["items"]) == (2, 1, 1, 0, 4)
    assert row["errors"] == {"RuntimeError: out of memory on this clip": 1} and row["accuracy"] is not None
    report = (out / "report.md").read_text()
    assert "| 1/2 done, 1 failed |" in report and "## Failures" in report
    assert f"- `{label}`: RuntimeError: out of memory on this clip (1 item)" in report
    before = stored(out)
    refuse_loading(monkeypatch)  # a failed record counts as finished without --retry-failed
    assert vqa(model, out, "snapkv:budget=0.5") == 0 and stored(out) == before
    monkeypatch.undo()
    calls = answers(monkeypatch)
    assert vqa(model, out, "snapkv:budget=0.5", "--retry-failed") == 0
    assert calls.calls == ["NoneType", "NoneType", "SnapKVConfig"]  # warm-up, then clip 1: plain and snapkv
    after = stored(out)
    assert {name for name in before if after[name] != before[name]} == {f"items/{label}/clip-0001.json"}
    assert json.loads((out / "results.json").read_text())["summary"][label]["done"] == 2


def test_report_only_reports_the_records_without_loading_the_model(finished, model, tmp_path, monkeypatch):
    out = copy_without_reports(finished, tmp_path / "run")
    before = stored(out)
    refuse_loading(monkeypatch)
    assert vqa(model, out, f"{METHODS},prefixkv:budget=0.5", "--report-only") == 0
    assert stored(out) == before  # nothing answered, nothing calibrated
    summary = json.loads((out / "results.json").read_text())["summary"]
    expected = json.loads((finished / "results.json").read_text())["summary"]
    assert all(summary[label]["accuracy"] == row["accuracy"] for label, row in expected.items())
    assert (summary["prefixkv-budget=0.5"]["missing"], summary["prefixkv-budget=0.5"]["accuracy"]) == (2, None)
    assert "| 0/2 done, 2 missing |" in (out / "report.md").read_text()
