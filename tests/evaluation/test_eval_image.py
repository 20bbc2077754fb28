"""`mmcache eval --task image` end to end on tiny:var: results, report, resume, keep-everything rows, calibrations,
failed images, --retry-failed and --report-only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mmcache
import mmcache.eval.image_evaluation as image_evaluation
import mmcache.pipelines.loader as loader
from mmcache.cli.main import main
from mmcache.eval.folder_lock import FolderLock
from mmcache.pipelines.var.captions import calibration_captions

from .helpers import ConfigCalls, copy_without_reports, refuse_loading

METHODS = "hack:budget=0.2,scaletopk:budget=0.1"
LABELS = ["plain", "hack-budget=0.2", "scaletopk-budget=0.1"]
KEEP_ALL = "hack:budget=1.0,scaletopk:budget=1.0,recentscales:budget=1.0,scalekv:budget=1.0"
COLUMNS = ("| method | PSNR dB | SSIM | identical | colour | shape | peak KV / plain | KV held / plain | "
           "attention FLOPs / plain | time vs plain (median) | images |")


def image_eval(out: Path, methods: str = METHODS, *extra: str, model: str = "tiny:var") -> int:
    return main(["eval", "--task", "image", "--quiet", "--model", model, "--prompts", "2", "--calibration-prompts",
                 "2", "--methods", methods, "--out", str(out), *extra])


def stored(out: Path) -> dict[str, int]:
    return {path.relative_to(out).as_posix(): path.stat().st_mtime_ns
            for folder in ("items", "images", "calibration") for path in (out / folder).rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    assert image_eval(out) == 0
    return out


def test_a_run_writes_results_and_a_report_with_every_column(finished):
    results = json.loads((finished / "results.json").read_text())
    summary = results["summary"]
    assert list(summary) == LABELS
    for label, row in summary.items():
        assert row["images"] == 2 and 0 <= row["colour"] <= 1 and row["time"] > 0, label
        assert 0 < row["kv_bytes_peak"] <= 1 and 0 < row["kv_bytes_held"] <= 1 and 0 < row["attention_flops"] <= 1
    assert (summary["plain"]["psnr_db"], summary["plain"]["identical"], summary["plain"]["time"]) == (100, 2, 1)
    topk = summary["scaletopk-budget=0.1"]
    assert topk["kv_bytes_held"] < 1 and topk["attention_flops"] < 1 and topk["psnr_db"] < 100
    calibration = results["run"]["calibrations"]["hack-budget=0.2"]
    assert calibration == "hack-tiny_var-captions2.json" and "scaletopk-budget=0.1" not in results["run"]["calibrations"]
    assert len(results["images"]) == 2 and results["images"][1]["seed"] == 1
    report = (finished / "report.md").read_text()
    assert COLUMNS in report and "| `scaletopk-budget=0.1` |" in report and "calibrated on 2 training captions" in report
    assert set(stored(finished)) == {f"calibration/{calibration}", *(f"{folder}/{label}/000{image}-0.{suffix}"
                                     for label in LABELS for image in (0, 1)
                                     for folder, suffix in (("items", "json"), ("images", "png")))}
    assert not (finished / ".mmcache-eval.lock").exists()


def test_a_rerun_does_no_new_work_and_adds_only_new_images(finished, tmp_path, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    before = stored(out)
    refuse_loading(monkeypatch)
    assert image_eval(out) == 0
    assert stored(out) == before
    monkeypatch.undo()
    assert main(["eval", "--task", "image", "--quiet", "--model", "tiny:var", "--prompts", "3",
                 "--calibration-prompts", "2", "--methods", METHODS, "--out", str(out)]) == 0
    after = stored(out)
    assert {name: after[name] for name in before} == before
    assert sorted(set(after) - set(before)) == sorted(f"{folder}/{label}/0002-0.{suffix}" for label in LABELS
                                                      for folder, suffix in (("items", "json"), ("images", "png")))


def test_an_altered_image_is_generated_again_with_a_notice(finished, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    before = stored(out)
    altered = out / "images" / "scaletopk-budget=0.1" / "0001-0.png"
    Image.fromarray(255 - np.asarray(Image.open(altered))).save(altered)
    assert image_eval(out) == 0
    notices = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert notices == [f"mmcache eval: {altered} holds other pixels than its record; it will be generated again."]
    after = stored(out)
    assert {name for name in before if after[name] != before[name]} == {
        "images/scaletopk-budget=0.1/0001-0.png", "items/scaletopk-budget=0.1/0001-0.json"}


def test_methods_that_keep_everything_match_the_plain_images(tmp_path):
    assert image_eval(tmp_path / "run", KEEP_ALL) == 0
    summary = json.loads((tmp_path / "run" / "results.json").read_text())["summary"]
    assert len(summary) == 5
    for label, row in summary.items():
        assert (row["psnr_db"], row["ssim"], row["identical"]) == (100, 1, 2), label
        assert (row["kv_bytes_peak"], row["kv_bytes_held"], row["attention_flops"]) == (1, 1, 1), label
    assert not (tmp_path / "run" / "calibration").exists()


def test_a_model_shipping_a_calibration_uses_it(tmp_path):
    pipe = loader.load("tiny:var", device="cpu")
    folder = pipe.save_pretrained(tmp_path / "var", defaults={
        "method_presets": {"hack": {"budget": 0.3, "calibration": "hack_calibration.json"}}})
    mmcache.calibrate(pipe, method="hack", prompts=calibration_captions(2), seeds=[0],
                      progress=False).save(folder / "hack_calibration.json")
    assert image_eval(tmp_path / "run", "hack:budget=0.2,scalekv:budget=0.2", model=str(folder)) == 0
    run = json.loads((tmp_path / "run" / "results.json").read_text())["run"]
    assert run["calibrations"] == {"hack-budget=0.2": "hack_calibration.json",
                                   "scalekv-budget=0.2": "hack_calibration.json"}
    assert run["calibration_source"] == "shipped with the model" and run["model_weights"]
    assert not (tmp_path / "run" / "calibration").exists()


def test_a_busy_folder_and_another_seed_list(finished, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    with FolderLock(out):
        assert image_eval(out) == 1
    assert "is in use by process" in capsys.readouterr().err
    assert image_eval(out, METHODS, "--seeds", "5") == 1
    assert "holds results for other settings (seeds: [0] → [5])" in capsys.readouterr().err
    assert image_eval(out, "scaletopk:budget=0.1", "--seeds", "5", "--force") == 0
    assert sorted(path.name for path in (out / "items").iterdir()) == ["plain", "scaletopk-budget=0.1"]
    assert json.loads((out / "results.json").read_text())["images"][1]["seed"] == 6


def images(monkeypatch: pytest.MonkeyPatch, fail_at: int = 0) -> ConfigCalls:
    """Counts the evaluation's ``generate_one`` calls; the ``fail_at``-th of the plain pipeline raises."""
    return ConfigCalls(monkeypatch, image_evaluation, "generate_one", 1, "NoneType", fail_at, "the sampler diverged")


def test_a_failing_warm_up_call_does_not_stop_the_run(tmp_path, monkeypatch):
    calls = images(monkeypatch, fail_at=1)  # the untimed warm-up call raises once
    assert image_eval(tmp_path / "run", "scaletopk:budget=0.1") == 0
    assert calls.calls[:2] == ["NoneType", "NoneType"]
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [(row["done"], row["failed"]) for row in summary["summary"].values()] == [(2, 0), (2, 0)]
    assert summary["run"]["device"] == "cpu"
    assert image_eval(tmp_path / "run", "scaletopk:budget=0.1", "--report-only") == 0
    assert json.loads((tmp_path / "run" / "results.json").read_text())["run"]["device"] is None


def test_a_failed_image_is_recorded_and_only_retry_failed_makes_it_again(tmp_path, monkeypatch):
    out, topk = tmp_path / "run", "scaletopk-budget=0.1"
    images(monkeypatch, fail_at=3)  # warm-up, image 0, then image 1's plain image
    assert image_eval(out, "scaletopk:budget=0.1") == 0
    plain = json.loads((out / "items" / "plain" / "0001-0.json").read_text())
    method = json.loads((out / "items" / topk / "0001-0.json").read_text())
    assert (plain["status"], plain["error"]) == ("failed", "RuntimeError: the sampler diverged")
    assert method["error"] == "the plain run of this item failed (RuntimeError: the sampler diverged)"
    assert not (out / "images" / topk / "0001-0.png").exists()
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert [(row["done"], row["failed"], row["images"]) for row in summary.values()] == [(1, 1, 1), (1, 1, 1)]
    assert "| 1/2 done, 1 failed |" in (out / "report.md").read_text()
    before = stored(out)
    calls = images(monkeypatch)
    assert image_eval(out, "scaletopk:budget=0.1", "--retry-failed") == 0
    assert calls.calls == ["NoneType", "NoneType", "ScaleTopKConfig"]  # warm-up, then image 1: plain and topk
    after = stored(out)
    assert {name for name in before if after[name] != before[name]} == {
        "items/plain/0001-0.json", f"items/{topk}/0001-0.json"}
    assert set(after) - set(before) == {"images/plain/0001-0.png", f"images/{topk}/0001-0.png"}
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert [(row["done"], row["failed"], row["images"]) for row in summary.values()] == [(2, 0, 2), (2, 0, 2)]


def test_report_only_reports_the_records_without_loading_the_model(finished, tmp_path, monkeypatch):
    out = copy_without_reports(finished, tmp_path / "run")
    before = stored(out)
    refuse_loading(monkeypatch)
    assert image_eval(out, METHODS, "--report-only") == 0
    assert stored(out) == before
    summary = json.loads((out / "results.json").read_text())["summary"]
    expected = json.loads((finished / "results.json").read_text())["summary"]
    for label, row in expected.items():  # SSIM of pixels decoded from the PNGs may differ in the last bit
        assert summary[label] == {**row, "ssim": pytest.approx(row["ssim"], abs=1e-12)}, label
    assert "| 2/2 done |" in (out / "report.md").read_text()
