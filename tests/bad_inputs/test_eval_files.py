"""A rerun of `mmcache eval` into a folder with damaged files: recovered with a notice, or refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mmcache.cli.main import main
from mmcache.eval.results import read_results
from mmcache.eval.schemas import ItemRecord
from mmcache.eval.video_check import video_problem

from .table_eval_files import METHOD, RECOVERED, REFUSED, FileCase, record_path, video_path

LABELS = ("baseline", METHOD)


def eval_argv(out: Path) -> list[str]:
    return ["eval", "--model", "tiny:wan2.1-t2v", "--steps", "2", "--limit-prompts", "1", "--vbench", "off",
            "--quiet", "--no-warmup-run", "--methods", "easycache:threshold=0.5,warmup_steps=1", "--out", str(out)]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(eval_argv(out)) == 0
    return out


def snapshot(out: Path) -> dict[str, bytes]:
    return {path.relative_to(out).as_posix(): path.read_bytes()
            for folder in ("items", "videos") for path in sorted((out / folder).rglob("*")) if path.is_file()}


def files_of(label: str, out: Path) -> tuple[str, str]:
    return (record_path(out, label).relative_to(out).as_posix(), video_path(out, label).relative_to(out).as_posix())


def copy_and_damage(case: FileCase, finished: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    before = snapshot(out)
    case.damage(out)
    return out, before


@pytest.mark.parametrize("case", [case.param() for case in RECOVERED])
def test_a_damaged_file_is_regenerated_with_a_notice(case, finished, tmp_path, capsys):
    out, before = copy_and_damage(case, finished, tmp_path)
    code = main(eval_argv(out))
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.out + captured.err, captured.err
    notices = [line for line in captured.err.splitlines() if line.strip()]
    assert len(notices) == (1 if case.message else 0), notices
    assert all(line.startswith("mmcache eval: ") and case.message in line for line in notices), notices
    after = snapshot(out)
    for label in LABELS:
        record = ItemRecord.validate_python(json.loads(record_path(out, label).read_text()))
        assert record.status == "done" and video_problem(video_path(out, label), record.frames_shape) is None
        if label not in case.regenerated:  # finished work is never lost or redone
            assert all(after[name] == before[name] for name in files_of(label, out))
    summary = read_results(out / "results.json")["summary"]
    assert all(summary[label]["done"] == 1 for label in LABELS)
    assert not (out / ".mmcache-eval.lock").exists()


@pytest.mark.parametrize("case", [case.param() for case in REFUSED])
def test_an_unusable_folder_is_refused_in_one_line(case, finished, tmp_path, capsys):
    out, before = copy_and_damage(case, finished, tmp_path)
    code = main(eval_argv(out))
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 1 and "Traceback" not in captured.out + captured.err, captured.err
    assert len(lines) == 1 and lines[0].startswith("mmcache eval: error: ") and case.message in lines[0], lines
    assert snapshot(out) == before
