"""The hint `mmcache generate` prints when a method reused nothing."""

from mmcache.cli.hints import no_reuse_hint
from mmcache.stats import BranchCounts, CacheStats, StepRecord


def stats_of(records: list[StepRecord], method: str = "easycache") -> CacheStats:
    computed = sum(r.computed for r in records)
    return CacheStats(method=method, run=0, num_steps=len(records), calls=len(records), computed=computed,
                      skipped=len(records) - computed,
                      branches={"cond": BranchCounts(len(records), computed, len(records) - computed)},
                      timeline=tuple(records), forwards=computed, computed_forwards=computed,
                      denoiser_seconds=None, computed_forward_seconds=None, reused_forward_seconds=None)


def test_names_the_closest_metric_when_the_threshold_was_never_reached():
    records = [StepRecord(0, "cond", True, "warmup"),
               StepRecord(1, "cond", True, "accumulated error reached threshold", 0.31, 0.05),
               StepRecord(2, "cond", True, "accumulated error reached threshold", 0.17, 0.05)]
    hint = no_reuse_hint(stats_of(records))
    assert "0.17 (step 2, cond)" in hint and "--threshold" in hint


def test_says_when_every_step_was_inside_warmup():
    hint = no_reuse_hint(stats_of([StepRecord(i, "cond", True, "warmup") for i in range(6)]))
    assert "(warmup)" in hint and "--warmup-steps" in hint


def test_names_the_knob_of_a_calibrated_method():
    records = [StepRecord(i, "cond", True, "not in the calibrated schedule") for i in range(6)]
    hint = no_reuse_hint(stats_of(records, method="ertacache"))
    assert "calibrate --threshold" in hint and "--warmup-steps" not in hint


def test_silent_when_something_was_reused():
    records = [StepRecord(0, "cond", True, "warmup"), StepRecord(1, "cond", False, "below threshold", 0.01, 0.05)]
    assert no_reuse_hint(stats_of(records)) is None


def test_a_chunk_method_is_judged_by_its_chunks():
    from dataclasses import replace

    from mmcache.stats import ChunkRecord

    records = [StepRecord(i, "cond", True, "per-chunk decisions (FlowCache)") for i in range(4)]
    chunks = tuple(ChunkRecord(0, i, "cond", 0, "reused" if i == 2 else "computed") for i in range(4))
    reusing = replace(stats_of(records, method="flowcache"), chunk_timeline=chunks)
    assert no_reuse_hint(reusing) is None
    assert "denoiser calls, each running only the chunks" in str(reusing) and "timeline:" not in str(reusing)
    cached_only = replace(reusing, chunk_timeline=tuple(replace(c, state="computed") for c in chunks))
    assert "no chunk was reused" in no_reuse_hint(cached_only) and "--window-threshold" in no_reuse_hint(cached_only)
