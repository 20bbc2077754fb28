"""``mmcache ask`` in-process on the tiny random video-QA model."""

import contextlib
import json

import numpy as np
import pytest

import mmcache.cli.ask as ask
from mmcache.cli.main import main
from mmcache.pipelines.toy.data import make_clip
from mmcache.video import write_mp4

BASE = ["ask", "--model", "tiny:vlm", "--question", "what colour is the shape?"]
CAPTION = ["--frames-from-caption", "a red circle moving left on a black background"]


def test_ask_about_a_rendered_clip_writes_its_costs(tmp_path, capsys):
    assert main([*BASE, *CAPTION, "--stats-json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "32 visual tokens" in out and "answer:" in out and "KV cache" in out
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["frames"] == 4 and report["configs"] == [] and report["method_stats"] is None
    assert set(report["answers"]["none"]) >= {"answer", "prefill_seconds", "kv_bytes", "visual_tokens"}


def test_ask_about_a_video_file_uses_its_first_frames(tmp_path, capsys):
    write_mp4(make_clip(0, 0, "train", 10, 64).frames, tmp_path / "clip.mp4")
    assert main([*BASE, "--video", str(tmp_path / "clip.mp4"), "--frames", "6"]) == 0
    out = capsys.readouterr().out
    assert "frames 1-6 of 10, 64x64" in out and "48 visual tokens" in out


class _FakeHandle:
    """Stands in for a VLM method's handle: enabled, it changes nothing."""

    active = False

    def stats(self):
        return "fake method stats"


@pytest.fixture()
def fake_method(monkeypatch):
    seen = []

    @contextlib.contextmanager
    def methods(pipe, configs):
        seen.append([config.method for config in configs])
        yield _FakeHandle() if configs else None

    monkeypatch.setattr(ask, "_methods", methods)
    monkeypatch.setattr(ask, "_refuse_step_methods", lambda configs: None)
    return seen


def test_compare_prints_both_sides(fake_method, tmp_path, capsys):
    argv = [*BASE, *CAPTION, "--method", "schedule", "--compare", "--timing-runs", "2",
            "--stats-json", str(tmp_path / "s.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "baseline" in out and "schedule" in out and "prefill speedup" in out and "answers agree" in out
    assert "fake method stats" in out and fake_method == [[], ["schedule"]]
    report = json.loads((tmp_path / "s.json").read_text())
    assert set(report["answers"]) == {"baseline", "schedule"} and report["timing_runs"] == 2
    assert report["method_stats"] == "fake method stats"


def test_table_ratios():
    from mmcache.pipelines.vlm.measure import AnswerRun

    base = AnswerRun("red", 0.010, 0.012, 4096, 40, 32, 2)
    fast = AnswerRun("red", 0.005, 0.007, 1024, 40, 32, 2)
    text = ask._table({"baseline": base, "zipvl": fast})
    assert "prefill speedup 2.00x" in text and "KV cache 0.25x" in text and "4.0 KiB" in text


def test_blank_video_frames_still_answer(tmp_path, capsys):
    write_mp4(np.zeros((3, 32, 32, 3), dtype=np.uint8), tmp_path / "black.mp4")
    assert main([*BASE, "--video", str(tmp_path / "black.mp4")]) == 0
    assert "frames 1-3 of 3" in capsys.readouterr().out


def test_models_lists_the_video_qa_models(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "video-QA models, for `mmcache ask`" in out and "tiny:vlm" in out.split("video-QA models")[1]
