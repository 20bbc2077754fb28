"""Aggregate speedups are per-item medians that a stalled run cannot move, and the report names the stall."""

from __future__ import annotations

import pytest

from mmcache.eval.aggregate import item_rows, summarize
from mmcache.eval.methods import BASELINE_METHOD, EvalMethod
from mmcache.eval.plan import EvalItem
from mmcache.eval.report_md import render_report
from mmcache.eval.timing_outliers import median_speedup, slow_outliers

PEER = EvalMethod("diffusers-fbc", "diffusers-fbc", "peer", "diffusers-fbc", {})


def items(count: int) -> list[EvalItem]:
    return [EvalItem(index, f"prompt {index}", f"prompt {index}", 0, 0, f"key{index}") for index in range(count)]


def record(label: str, item: EvalItem, wall: float, denoiser: float) -> dict:
    return {"status": "done", "method": label, "item": item.describe(), "wall_seconds": wall,
            "denoiser_seconds": denoiser, "denoiser_calls": 20, "denoiser_computed": 20, "metrics": {}}


def test_a_time_far_above_the_median_of_the_others_is_flagged():
    assert slow_outliers([2.7, 2.6, 38.6, 2.9]) == [None, None, pytest.approx(2.7), None]
    assert slow_outliers([38.6, 2.7]) == [2.7, None]  # two items: the slow one is still caught
    assert slow_outliers([5.0]) == [None] and slow_outliers([2.0, None, 2.1]) == [None, None, None]
    assert slow_outliers([1.0, 2.9, 1.1]) == [None, None, None]  # under 3x: ordinary noise


def test_a_stalled_baseline_does_not_fake_a_speedup():
    # the shape of a measured case: one baseline stalled at 38.6 s against 2.6-2.9 s
    evaluated = items(4)
    base_wall, fbc_wall = [2.7, 2.6, 38.6, 2.9], [2.0, 2.2, 2.5, 2.4]
    records = {
        "baseline": [record("baseline", item, wall, wall * 0.8) for item, wall in zip(evaluated, base_wall)],
        PEER.label: [record(PEER.label, item, wall, wall * 0.7) for item, wall in zip(evaluated, fbc_wall)],
    }
    summary = summarize(records, [BASELINE_METHOD, PEER], evaluated)
    per_item = sorted(base / own for base, own, index in zip(base_wall, fbc_wall, range(4)) if index != 2)
    assert summary[PEER.label]["speedup_wall"] == pytest.approx(per_item[1])
    assert summary[PEER.label]["speedup_items"] == 3
    assert 1.0 < summary[PEER.label]["speedup_denoiser"] < 1.7
    stalls = summary["baseline"]["timing_outliers"]
    assert {(row["item"], row["timing"]) for row in stalls} == {("key2", "wall_seconds"), ("key2", "denoiser_seconds")}
    rows = item_rows(records, evaluated)
    assert [row["timing_outlier"] for row in rows if row["method"] == "baseline"] == \
        [None, None, ["denoiser_seconds", "wall_seconds"], None]
    report = render_report({"run": {}, "summary": summary, "availability": {}, "vbench": {}})
    assert "## Timing outliers" in report and "'prompt 2' seed 0: wall time 38.60 s, 14.3x" in report


def test_with_every_pair_flagged_the_median_uses_them_all():
    assert median_speedup([{"t": 4.0}], [{"t": 2.0}], "t", [True]) == (2.0, 1)
    assert median_speedup([None], [{"t": 2.0}], "t", [False]) == (None, 0)
