"""Timings that a stall of the machine made far slower than the rest, and speedups that ignore them.

Every item of one method runs the same settings, so its times should be alike. A time more than
``OUTLIER_FACTOR`` times the median of the method's other items is an outlier (a stall, a
one-off start-up cost). Aggregate speedups are the median over items of the per-item speedup
(baseline time / method time), over the items where neither time is an outlier; the report lists
every outlier. This costs no extra generation.
"""

from __future__ import annotations

from statistics import median
from typing import Any, Sequence

OUTLIER_FACTOR = 3.0
TIMINGS = ("wall_seconds", "denoiser_seconds")


def slow_outliers(times: Sequence[float | None]) -> list[float | None]:
    """Per entry, the median of the other entries when this one is more than ``OUTLIER_FACTOR`` times it,
    else ``None`` (also for a missing time or when there is nothing to compare with)."""
    flags: list[float | None] = []
    for index, value in enumerate(times):
        others = [other for position, other in enumerate(times) if position != index and other]
        reference = median(others) if others else None
        flags.append(reference if value and reference and value > OUTLIER_FACTOR * reference else None)
    return flags


def outliers_of(records: Sequence[dict[str, Any] | None]) -> list[dict[str, float]]:
    """Per item: ``{timing: median of the other items}`` for each of its timings that is an outlier."""
    done = [record if record is not None and record.get("status") == "done" else None for record in records]
    found: list[dict[str, float]] = [{} for _ in records]
    for timing in TIMINGS:
        times = [record.get(timing) if record is not None else None for record in done]
        for index, reference in enumerate(slow_outliers(times)):
            if reference is not None:
                found[index][timing] = reference
    return found


def median_speedup(baseline: Sequence[dict[str, Any] | None], own: Sequence[dict[str, Any] | None],
                   timing: str, excluded: Sequence[bool]) -> tuple[float | None, int]:
    """(median over items of baseline / own ``timing``, items used), leaving out ``excluded`` items unless
    that leaves none."""
    pairs = [(base[timing], mine[timing], skip) for base, mine, skip in zip(baseline, own, excluded)
             if base is not None and mine is not None and base.get(timing) and mine.get(timing)]
    kept = [(b, o) for b, o, skip in pairs if not skip] or [(b, o) for b, o, _ in pairs]
    if not kept:
        return None, 0
    return median(b / o for b, o in kept), len(kept)


def describe_outliers(label: str, items: Sequence[dict[str, Any]], records: Sequence[dict[str, Any] | None],
                      outliers: Sequence[dict[str, float]]) -> list[dict[str, Any]]:
    """JSON rows naming each outlier: item, timing, its time and the median of the other items."""
    rows = []
    for item, record, found in zip(items, records, outliers):
        for timing, reference in found.items():
            rows.append({"method": label, "item": item["key"], "prompt": item["prompt"], "seed": item["seed"],
                         "timing": timing, "seconds": record[timing], "median_of_others": reference,
                         "factor": record[timing] / reference})
    return rows
