"""The step-method Pareto script runs end to end on a tiny model and writes its table and plot."""

from pathlib import Path

import pytest

from mmcache.eval import pareto_step_methods


def test_held_out_prompts_are_disjoint_from_calibration_prompts() -> None:
    evaluation = set(pareto_step_methods.held_out_prompts(20))
    calibration = set(pareto_step_methods.calibration_prompts(8))
    assert len(evaluation) == 20 and len(calibration) == 8
    assert not evaluation & calibration


def test_too_many_prompts_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="held-out captions"):
        pareto_step_methods.held_out_prompts(10_000)


@pytest.mark.slow
def test_pareto_script_writes_table_and_plot(tmp_path: Path) -> None:
    code = pareto_step_methods.main([
        "--model", "tiny:wan2.1-t2v", "--prompts", "1", "--calibration-prompts", "1", "--steps", "6",
        "--out", str(tmp_path), "--device", "cpu", "--quiet",
        "--ertacache", "0.2", "--easycache", "0.1", "--easycache-warmup", "1", "--fbc", "0.2",
        "--magcache", "", "--taylorseer", "", "--seacache", "",
    ])
    assert code == 0
    table = (tmp_path / "pareto.md").read_text()
    for method in ("ertacache", "easycache", "fbc"):
        assert method in table
    assert (tmp_path / "pareto.png").stat().st_size > 0
