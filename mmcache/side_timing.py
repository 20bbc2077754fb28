"""Timing a baseline against a cached run so that one stall of the machine cannot fake a speedup.

``generate --compare`` runs each side ``runs`` times, alternating baseline and cached, and keeps
the fastest run of each side (as ``timeit`` does: a stall only ever adds time). Outputs are
deterministic, so the first run of each side gives the videos and metrics; the others only time.
A run slower than ``OUTLIER_FACTOR`` times its side's fastest is named in a note.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

OUTLIER_FACTOR = 3.0


@dataclasses.dataclass
class SideTiming:
    """The runs of one side: the first result (frames, stats) and every run's wall and denoiser time."""

    first: Any
    wall: list[float] = dataclasses.field(default_factory=list)
    denoiser: list[float | None] = dataclasses.field(default_factory=list)

    def add(self, result: Any) -> None:
        self.wall.append(result.wall_seconds)
        self.denoiser.append(result.stats.denoiser_seconds)

    @property
    def wall_seconds(self) -> float:
        return min(self.wall)

    @property
    def denoiser_seconds(self) -> float | None:
        known = [seconds for seconds in self.denoiser if seconds]
        return min(known) if len(known) == len(self.denoiser) else None

    def outliers(self) -> list[int]:
        """Indices of runs slower than ``OUTLIER_FACTOR`` x the fastest."""
        return [index for index, seconds in enumerate(self.wall) if seconds > OUTLIER_FACTOR * self.wall_seconds]


def time_sides(run_baseline: Callable[[], Any], run_cached: Callable[[], Any],
               runs: int) -> tuple[SideTiming, SideTiming]:
    """Alternate ``runs`` baseline and cached runs; both sides' timings."""
    baseline = cached = None
    for _ in range(runs):
        base_result, cached_result = run_baseline(), run_cached()
        if baseline is None or cached is None:
            baseline, cached = SideTiming(base_result), SideTiming(cached_result)
        baseline.add(base_result)
        cached.add(cached_result)
    assert baseline is not None and cached is not None, "runs must be >= 1"
    return baseline, cached


def outlier_notes(sides: dict[str, SideTiming]) -> list[str]:
    """One line per side with a run far slower than its fastest."""
    notes = []
    for name, side in sides.items():
        for index in side.outliers():
            notes.append(f"note: {name} run {index + 1} took {side.wall[index]:.2f} s, "
                         f"{side.wall[index] / side.wall_seconds:.1f}x its fastest run ({side.wall_seconds:.2f} s): "
                         "a stall of the machine or a one-off start-up cost; the speedup uses each side's fastest run.")
    return notes
