"""Every CLI table, run in-process through ``mmcache.cli.main.main(argv)``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmcache.cli.main import main

from .cases import CliCase, assert_one_line_error, bundled_present
from .table_ask import ASK_CASES
from .table_calibrate import CALIBRATE_CASES, CALIBRATE_REQUIRED
from .table_demo_cli import DEMO_CLI_CASES
from .table_eval_flags import EVAL_FLAG_CASES
from .table_eval_image import EVAL_IMAGE_CASES
from .table_eval_vqa import EVAL_VQA_CASES
from .table_generate import GENERATE_CASES
from .table_top_level import TOP_LEVEL_CASES

PREFIXES = {
    "generate": ("generate", "--quiet", "--out", "{tmp}/v.mp4"),
    "calibrate": ("calibrate", "--quiet", "--prompts", "builtin", "--out", "{tmp}/c.json"),
    "eval": ("eval", "--quiet", "--vbench", "off", "--out", "{tmp}/run"),
    "eval-vqa": ("eval", "--task", "vqa", "--quiet", "--model", "tiny:vlm", "--clips", "1", "--out", "{tmp}/run"),
    "eval-image": ("eval", "--task", "image", "--quiet", "--model", "tiny:var", "--prompts", "1", "--out",
                   "{tmp}/run"),
    "demo": ("demo",),
    "ask": ("ask", "--model", "tiny:vlm", "--question", "what shape is it?"),
    "": (),
}


def run_case(case: CliCase, prefix: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture,
             request: pytest.FixtureRequest) -> None:
    if case.needs_bundled and not bundled_present():
        pytest.skip("the bundled toy-t2v weights are absent")
    if case.before_load:
        request.getfixturevalue("no_model_loading")
    port = str(request.getfixturevalue("busy_port")) if any("{port}" in word for word in case.argv) else ""
    if case.setup is not None:
        case.setup(tmp_path)
    fill = lambda text: text.replace("{tmp}", str(tmp_path)).replace("{port}", port)  # noqa: E731
    code = main([fill(word) for word in (*prefix, *case.argv)])
    captured = capsys.readouterr()
    assert_one_line_error(code, case.code, captured.out, captured.err, fill(case.message))


@pytest.mark.parametrize("case", GENERATE_CASES)
def test_generate(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["generate"], tmp_path, capsys, request)
    assert not (tmp_path / "v.mp4").is_file()


@pytest.mark.parametrize("case", CALIBRATE_CASES)
def test_calibrate(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["calibrate"], tmp_path, capsys, request)
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("case", CALIBRATE_REQUIRED + TOP_LEVEL_CASES)
def test_commands(case, tmp_path, capsys, request):
    run_case(case, PREFIXES[""], tmp_path, capsys, request)


@pytest.mark.parametrize("case", EVAL_FLAG_CASES)
def test_eval_flags(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["eval"], tmp_path, capsys, request)
    assert not (tmp_path / "run" / "items").exists()


@pytest.mark.parametrize("case", EVAL_VQA_CASES)
def test_eval_vqa_flags(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["eval-vqa"], tmp_path, capsys, request)
    assert not (tmp_path / "run" / "items").exists()


@pytest.mark.parametrize("case", EVAL_IMAGE_CASES)
def test_eval_image_flags(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["eval-image"], tmp_path, capsys, request)
    assert not (tmp_path / "run" / "items").exists()


@pytest.mark.parametrize("case", DEMO_CLI_CASES)
def test_demo_start_up(case, tmp_path, capsys, request):
    pytest.importorskip("gradio")
    run_case(case, PREFIXES["demo"], tmp_path, capsys, request)


@pytest.mark.parametrize("case", ASK_CASES)
def test_ask(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["ask"], tmp_path, capsys, request)
