"""The VBench subprocess: its command line, reading its result file, failures, reuse of a finished run."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from mmcache.eval.errors import EvalError
from mmcache.eval.vbench_runner import check_dimensions, run_vbench, vbench_availability

FAKE_VBENCH = textwrap.dedent("""
    import argparse, json, os, sys, time
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    for flag in ("--videos_path", "--dimension", "--mode", "--prompt_file", "--output_path",
                 "--load_ckpt_from_local", "--ngpus"):
        parser.add_argument(flag)
    args = parser.parse_args()
    with open(os.path.join(os.path.dirname(__file__), "calls.txt"), "a") as log:
        log.write(" ".join(sys.argv[1:]) + "\\n")
    if os.environ.get("FAKE_VBENCH_FAIL"):
        print("Traceback: CUDA error", file=sys.stderr)
        sys.exit(0)  # like VBench: exit code 0 even on failure
    prompts = json.load(open(args.prompt_file))
    videos = sorted(os.listdir(args.videos_path))
    assert sorted(prompts) == videos, (prompts, videos)
    results = {dim: [0.5 + i / 10, [{"video_path": v, "video_results": 0.5} for v in videos]]
               for i, dim in enumerate(args.dimension.split())}
    name = time.strftime("results_%Y-%m-%d-%H:%M:%S_eval_results.json")
    json.dump(results, open(os.path.join(args.output_path, name), "w"))
""")


@pytest.fixture
def fake_vbench(tmp_path):
    script = tmp_path / "bin" / "fake_vbench.py"
    script.parent.mkdir()
    script.write_text(FAKE_VBENCH)
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a cat-0.mp4", "a dog-0.mp4"):
        (videos / name).write_bytes(b"")
    return [sys.executable, str(script)], videos, {"a cat-0.mp4": "a cat", "a dog-0.mp4": "a dog"}


def test_scores_are_read_from_the_result_file(fake_vbench, tmp_path):
    command, videos, prompts = fake_vbench
    summary = run_vbench(videos, prompts, tmp_path / "out", ["subject_consistency", "temporal_flickering"], command)
    assert summary["status"] == "done"
    assert summary["dimensions"] == {"subject_consistency": 0.5, "temporal_flickering": 0.6}
    call = (tmp_path / "bin" / "calls.txt").read_text()
    assert "--mode custom_input" in call and "--load_ckpt_from_local True" in call
    assert json.loads((tmp_path / "out" / "prompts.json").read_text()) == prompts
    # a finished run is reused, not repeated
    assert run_vbench(videos, prompts, tmp_path / "out", ["subject_consistency", "temporal_flickering"],
                      command)["status"] == "done"
    assert len((tmp_path / "bin" / "calls.txt").read_text().splitlines()) == 1


def test_no_result_file_is_a_failure_despite_exit_code_zero(fake_vbench, tmp_path, monkeypatch):
    command, videos, prompts = fake_vbench
    monkeypatch.setenv("FAKE_VBENCH_FAIL", "1")
    summary = run_vbench(videos, prompts, tmp_path / "out", ["temporal_flickering"], command)
    assert summary["status"] == "failed" and "CUDA error" in summary["reason"]
    assert (tmp_path / "out" / "vbench.log").is_file()


def test_availability_and_dimension_checks():
    status, runnable, _ = vbench_availability(["temporal_flickering"])
    try:
        import vbench  # noqa: F401
    except ImportError:
        assert not status.available and "not installed" in status.reason and runnable == []
    with pytest.raises(EvalError, match="needs VBench's own prompt suite"):
        check_dimensions(["color"])
    with pytest.raises(EvalError, match="Unknown VBench dimension"):
        check_dimensions(["beauty"])
