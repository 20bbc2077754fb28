"""The step-method Pareto script runs end to end on a tiny model and writes its table and plot."""

from pathlib import Path

import pytest

from mmcache.eval import pareto_step_methods
from mmcache.eval.methods import resolve_methods
from mmcache.eval.pareto_points import OperatingPoint, operating_points


def test_held_out_prompts_are_disjoint_from_calibration_prompts() -> None:
    evaluation = set(pareto_step_methods.held_out_prompts(20))
    calibration = set(pareto_step_methods.calibration_prompts(8))
    assert len(evaluation) == 20 and len(calibration) == 8
    assert not evaluation & calibration


def test_too_many_prompts_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="held-out captions"):
        pareto_step_methods.held_out_prompts(10_000)


def default_points(*extra: str) -> list[OperatingPoint]:
    """The points the script would run for 30 steps, with the given arguments (no model is loaded)."""
    args = pareto_step_methods.build_parser().parse_args(list(extra))
    return operating_points(args, [Path("c/ertacache-lambda0.1.json")], steps=30)


def test_existing_methods_keep_their_specs_and_peers_get_easycaches_warmup() -> None:
    specs = [point.spec for point in default_points()]
    assert specs[:3] == ["ertacache:calibration=c/ertacache-lambda0.1.json", "easycache:threshold=0.02,warmup_steps=5",
                         "easycache:threshold=0.05,warmup_steps=5"]
    assert "diffusers-fbc:threshold=0.05" in specs  # no warm-up setting: unchanged
    assert "diffusers-taylorseer:cache_interval=2,use_lite_mode=true,disable_cache_before_step=5" in specs
    assert "diffusers-seacache:threshold=0.25,retention_steps=5" in specs
    assert "diffusers-magcache:threshold=0.06,retention_ratio=0.166667" in specs  # int(0.166667 * 30 + 0.5) = 5
    own = [point.spec for point in default_points("--peer-warmup", "own")]
    assert "diffusers-taylorseer:cache_interval=2,use_lite_mode=true" in own
    assert "diffusers-seacache:threshold=0.25" in own


def test_cache_dit_curves_cover_both_block_counts_with_and_without_taylorseer() -> None:
    points = [point for point in default_points("--cache-dit", "0.1,0.4") if point.spec.startswith("cache-dit")]
    assert {point.method for point in points} == {"cache-dit F1B0", "cache-dit F1B0 + taylorseer", "cache-dit F2B0",
                                                  "cache-dit F2B0 + taylorseer"}
    assert len(points) == 8
    assert points[0].spec == ("cache-dit:Fn_compute_blocks=1,Bn_compute_blocks=0,residual_diff_threshold=0.1,"
                              "max_warmup_steps=5")
    assert points[0].warmup == "5 steps (`max_warmup_steps=5`)" and points[0].setting == "residual_diff_threshold=0.1"
    for point in points:  # every spec is one the evaluation accepts
        resolve_methods([point.spec])


def test_bad_peer_warmup_is_one_clear_error(capsys) -> None:
    with pytest.raises(SystemExit):
        pareto_step_methods.main(["--peer-warmup", "soon", "--out", "unused"])
    assert "--peer-warmup 'soon': give a number of steps (0 or more) or 'own'" in capsys.readouterr().err


@pytest.mark.slow
def test_pareto_script_writes_table_and_plot(tmp_path: Path) -> None:
    code = pareto_step_methods.main([
        "--model", "tiny:wan2.1-t2v", "--prompts", "1", "--calibration-prompts", "1", "--steps", "6",
        "--out", str(tmp_path), "--device", "cpu", "--quiet",
        "--ertacache", "0.2", "--easycache", "0.1", "--easycache-warmup", "1", "--fbc", "0.2",
        "--magcache", "", "--taylorseer", "", "--seacache", "",
        "--cache-dit", "0.2", "--cache-dit-blocks", "1",
    ])
    assert code == 0
    table = (tmp_path / "pareto.md").read_text()
    for method in ("| ertacache |", "| easycache |", "| diffusers-fbc |", "| cache-dit F1B0 |",
                   "| cache-dit F1B0 + taylorseer |", "1 step (`max_warmup_steps=1`)", "| warm-up |"):
        assert method in table
    assert "n/a | n/a | n/a" not in table  # every row was measured
    assert (tmp_path / "pareto.png").stat().st_size > 0
