"""`generate --compare` keeps each side's fastest run, so one stalled run cannot fake a speedup."""

from __future__ import annotations

import types

from mmcache.side_timing import outlier_notes, time_sides


def fake_runs(*seconds: float):
    """A run function whose successive results took ``seconds``."""
    times = iter(seconds)

    def run():
        wall = next(times)
        return types.SimpleNamespace(wall_seconds=wall, stats=types.SimpleNamespace(denoiser_seconds=wall * 0.9))

    return run


def test_the_fastest_run_of_each_side_counts_and_a_stall_is_named():
    baseline, cached = time_sides(fake_runs(38.6, 2.7), fake_runs(2.0, 2.1), runs=2)
    assert baseline.wall_seconds == 2.7 and cached.wall_seconds == 2.0
    assert baseline.denoiser_seconds == 2.7 * 0.9
    assert baseline.first.wall_seconds == 38.6  # the first result gives the videos; timing uses every run
    notes = outlier_notes({"baseline": baseline, "cached": cached})
    assert len(notes) == 1 and notes[0].startswith("note: baseline run 1 took 38.60 s, 14.3x its fastest run")


def test_one_run_times_each_side_once():
    baseline, cached = time_sides(fake_runs(3.0), fake_runs(1.5), runs=1)
    assert (baseline.wall, cached.wall) == ([3.0], [1.5]) and not outlier_notes({"b": baseline, "c": cached})
