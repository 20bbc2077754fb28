"""`mmcache eval` end to end on the reference model: files, resume, failures, clear errors.

The model is toy-t2v (few steps) when its weights are present in pipelines/toy/models, else the
tiny random Wan pipeline (see helpers.model_args); both go through the same code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mmcache.eval.generator as generator_module
from mmcache.cli.main import main
from mmcache.eval.peers import PEERS
from mmcache.eval.evaluation import EvalOptions, run_evaluation
from mmcache.video import video_codec

from .helpers import FRAMES, STEPS, model_args, model_name

EASYCACHE = "easycache:threshold=0.5,warmup_steps=2"
COMMON = ["--limit-prompts", "2", "--vbench", "off", "--quiet"]


def eval_args(out: Path, *extra: str) -> list[str]:
    return ["eval", *model_args(), *COMMON, "--out", str(out), *extra]


def options(out: Path, methods: list[str], **overrides) -> EvalOptions:
    return EvalOptions(out=str(out), model=model_name(), steps=STEPS, num_frames=FRAMES, method_texts=methods,
                       limit_prompts=2, vbench=False, quiet=True, **overrides)


class CountingGenerations:
    """Wraps run_generation; optionally raises KeyboardInterrupt (Ctrl-C) at the n-th timed call."""

    def __init__(self, monkeypatch, interrupt_at: int | None = None) -> None:
        self.original = generator_module.run_generation
        self.timed = 0
        self.interrupt_at = interrupt_at
        monkeypatch.setattr(generator_module, "run_generation", self)

    def __call__(self, pipe, request, *args, **kwargs):
        if request.num_inference_steps != generator_module.WARMUP_STEPS:
            self.timed += 1
            if self.timed == self.interrupt_at:
                raise KeyboardInterrupt
        return self.original(pipe, request, *args, **kwargs)


def records(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted((out / "items").rglob("*.json"))}


def test_two_prompt_run_writes_every_file(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(eval_args(out, "--methods", f"{EASYCACHE},diffusers-fbc:threshold=0.2,diffusers-fastercache"))
    assert code == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    labels = ["baseline", "easycache-threshold=0.5-warmup_steps=2", "diffusers-fbc-threshold=0.2",
              "diffusers-fastercache"]
    assert list(results["summary"]) == labels
    assert set(results["availability"]) == {"lpips", "adherence", "vbench", "pareto_plot"}
    assert len(results["items"]) == 2 * len(labels)
    prompts = json.loads((out / "prompts.json").read_text())
    easy = results["summary"][labels[1]]
    assert easy["done"] == 2 and 0 < easy["calls_saved"] < 1 and easy["speedup_wall"] > 0
    assert easy["psnr_db"] > 10 and 0 < easy["ssim"] <= 1 and 0 < easy["temporal_flickering"] <= 1
    assert results["summary"]["baseline"]["calls_saved"] == 0.0
    for label in labels[:3]:
        for entry in prompts:
            video = out / "videos" / label / f"{entry['file_stem']}-0.mp4"
            assert video_codec(video) == "h264"
    report = (out / "report.md").read_text()
    assert "| method | speedup (wall) |" in report and all(f"`{label}`" in report for label in labels)
    faster = results["summary"]["diffusers-fastercache"]
    assert faster["done"] + faster["failed"] == 2  # diffusers' FasterCache may not support the model: recorded
    if faster["failed"]:
        assert "## Failures" in report and "diffusers-fastercache on" in report
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "run_config.json").read_text())["steps"] == STEPS


def test_resume_after_ctrl_c_recomputes_nothing_finished(tmp_path, monkeypatch):
    out = tmp_path / "run"
    methods = [f"{EASYCACHE},schedule:reuse_steps=[2,3]"]  # 2 items x 3 methods = 6 generations
    counter = CountingGenerations(monkeypatch, interrupt_at=3)  # Ctrl-C inside item 0's third generation
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(options(out, methods))
    finished = records(out)
    assert len(finished) == 2
    assert not [path for path in out.rglob(".*") if path.is_file()]  # no half-written file left
    counter = CountingGenerations(monkeypatch)
    written: list[str] = []
    run_evaluation(options(out, methods, on_record=lambda label, item, record: written.append(label)))
    assert len(written) == 4  # only what was missing
    assert counter.timed == 5  # those 4 + item 0's baseline again, for the comparison only
    after = records(out)
    assert all(after[name] == data for name, data in finished.items())
    regenerated = [json.loads(data) for name, data in after.items() if name not in finished]
    assert any(record.get("baseline_regenerated") and record.get("baseline_identical") for record in regenerated)
    counter = CountingGenerations(monkeypatch)
    run_evaluation(options(out, methods))
    assert counter.timed == 0 and records(out) == after
    (out / "report.md").unlink()
    run_evaluation(options(out, methods, report_only=True))
    assert counter.timed == 0 and (out / "report.md").is_file()


def test_a_method_added_later_runs_alone(tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_evaluation(options(out, [EASYCACHE]))
    counter = CountingGenerations(monkeypatch)
    run_evaluation(options(out, [EASYCACHE, "diffusers-fbc:threshold=0.2"]))
    assert counter.timed == 4  # per item: the new method + the baseline frames to compare with
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert summary["diffusers-fbc-threshold=0.2"]["done"] == 2


class BrokenPeer:
    name = "diffusers-fbc"
    summary = "always fails"

    def unavailable_reason(self):
        return None

    def check_params(self, params):
        return params

    def prepare(self, params, runtime):
        return params

    def accelerator(self, params, steps):
        def enable(pipe):
            raise ValueError("this peer does not support the model")
        return enable


def test_a_peer_that_fails_is_recorded_and_reported(tmp_path, monkeypatch):
    monkeypatch.setitem(PEERS, "diffusers-fbc", BrokenPeer())
    out = tmp_path / "run"
    assert run_evaluation(options(out, [f"{EASYCACHE},diffusers-fbc"])) == 0
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert summary["diffusers-fbc"]["failed"] == 2 and summary["easycache-threshold=0.5-warmup_steps=2"]["done"] == 2
    assert "this peer does not support the model" in (out / "report.md").read_text()


def test_a_folder_made_for_other_settings_needs_force(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(eval_args(out, "--methods", EASYCACHE, "--limit-prompts", "1")) == 0
    assert main(eval_args(out, "--methods", EASYCACHE, "--limit-prompts", "1", "--seeds", "1")) == 1
    err = capsys.readouterr().err
    assert "holds results for other settings (seeds: [0] → [1]" in err and "--force" in err
    assert main(eval_args(out, "--methods", EASYCACHE, "--limit-prompts", "1", "--seeds", "1", "--force")) == 0
    assert json.loads((out / "run_config.json").read_text())["seeds"] == [1]
    seeds = {json.loads(data)["item"]["seed"] for data in records(out).values()}
    assert seeds == {1}  # the records made for seed 0 were removed


def test_measured_compute_agrees_with_calls_for_mmcache_and_covers_peers(tmp_path):
    out = tmp_path / "run"
    code = main(eval_args(out, "--measure-compute", "--methods", f"{EASYCACHE},diffusers-fbc:threshold=0.2"))
    assert code == 0
    summary = json.loads((out / "results.json").read_text())["summary"]
    easycache = next(s for label, s in summary.items() if label.startswith("easycache"))
    fbc = next(s for label, s in summary.items() if label.startswith("diffusers-fbc"))
    # a reused call runs no linear layer and every computed call costs the same: both measures agree
    assert easycache["compute_saved"] == pytest.approx(easycache["calls_saved"], abs=1e-9)
    assert easycache["compute_saved"] > 0
    assert fbc["calls_saved"] is None and 0 < fbc["compute_saved"] < 1
    assert summary["baseline"]["compute_saved"] == pytest.approx(0.0)
    assert "compute saved" in (out / "report.md").read_text()
