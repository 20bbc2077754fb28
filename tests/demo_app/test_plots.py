"""The timeline plot renders for adaptive methods (metric and threshold) and fixed schedules (none)."""

from __future__ import annotations

from PIL import Image

from mmcache.demos.plots import save_timeline_png, timeline_figure
from mmcache.stats import BranchCounts, CacheStats, StepRecord


def stats_of(records: list[StepRecord], method: str = "easycache") -> CacheStats:
    computed = sum(record.computed for record in records)
    branches = {name: BranchCounts(calls=2, computed=1, skipped=1) for name in ("cond", "uncond")}
    return CacheStats(method, 0, 3, len(records), computed, len(records) - computed, branches, tuple(records),
                      len(records), computed, None, None, None)


ADAPTIVE = [
    StepRecord(0, "cond", True, "warmup"), StepRecord(0, "uncond", True, "warmup"),
    StepRecord(1, "cond", False, "below threshold", 0.02, 0.05),
    StepRecord(1, "uncond", False, "follows leader branch", 0.02, 0.05),
    StepRecord(2, "cond", True, "final step"), StepRecord(2, "uncond", True, "final step"),
]


def test_adaptive_timeline_draws_metric_threshold_and_names_the_following_branch(tmp_path):
    figure = timeline_figure(stats_of(ADAPTIVE))
    decisions, metric = figure.axes
    labels = [text.get_text() for text in metric.get_legend().get_texts()]
    assert labels == ["cond metric", "uncond: same as cond", "threshold"]
    assert "4 of 6 denoiser calls computed, 2 reused" in decisions.get_title()
    path = save_timeline_png(stats_of(ADAPTIVE), tmp_path / "timeline.png")
    assert Image.open(path).format == "PNG"


def test_fixed_schedule_says_it_has_no_metric():
    records = [StepRecord(step, branch, step != 1, "schedule") for step in range(3) for branch in ("cond", "uncond")]
    _, metric = timeline_figure(stats_of(records, "schedule")).axes
    assert any("no per-step decision metric" in text.get_text() for text in metric.texts)
