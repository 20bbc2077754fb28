"""The per-step timeline plot: which denoiser calls were computed or reused, and why.

Top: one row per CFG branch, one cell per step, coloured computed or reused. Bottom: the method's
decision metric (EasyCache: the accumulated error estimate) against its threshold, per branch;
reused steps are drawn hollow. Drawn with matplotlib's object API (no pyplot global state), so it
is safe from the demo's worker threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mmcache.stats import CacheStats

COMPUTED_COLOUR = "#2b6cb0"
REUSED_COLOUR = "#f6ad55"
BRANCH_COLOURS = ("#2f855a", "#9b2c2c", "#553c9a", "#2c7a7b")
BRANCH_MARKERS = ("o", "s", "^", "D")


def _branches(stats: CacheStats) -> list[str]:
    return list(dict.fromkeys(record.branch for record in stats.timeline))


def _draw_decisions(axes, stats: CacheStats, branches: list[str], steps: int) -> None:
    grid = np.full((len(branches), steps), np.nan)
    for record in stats.timeline:
        grid[branches.index(record.branch), record.step] = 1.0 if record.computed else 0.0
    axes.imshow(np.ma.masked_invalid(grid), aspect="auto", interpolation="nearest", vmin=0, vmax=1,
                cmap=ListedColormap([REUSED_COLOUR, COMPUTED_COLOUR]),
                extent=(-0.5, steps - 0.5, len(branches) - 0.5, -0.5))
    axes.set_yticks(range(len(branches)), branches)
    axes.set_xticks(np.arange(-0.5, steps, 1), minor=True)
    axes.set_yticks(np.arange(-0.5, len(branches), 1), minor=True)
    axes.grid(which="minor", color="white", linewidth=0.8)
    axes.tick_params(which="minor", length=0)
    axes.legend(handles=[Patch(color=COMPUTED_COLOUR, label="computed"), Patch(color=REUSED_COLOUR, label="reused")],
                loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)


def _shared_threshold(stats: CacheStats) -> dict[int, float] | None:
    """Step → threshold when every branch compared against the same value at each step, else ``None``."""
    shared: dict[int, float] = {}
    for record in stats.timeline:
        if record.threshold is None:
            continue
        if shared.setdefault(record.step, record.threshold) != record.threshold:
            return None
    return shared


def _draw_threshold(axes, points: list[tuple[int, float]], colour: str, label: str) -> None:
    axes.step([step for step, _ in points], [value for _, value in points], where="mid", color=colour,
              linestyle="--", linewidth=1, alpha=0.8, label=label)


def _draw_metric(axes, stats: CacheStats, branches: list[str]) -> bool:
    """Plot the metric per branch against the threshold; ``False`` when the method recorded neither.

    A branch whose metric series equals an earlier branch's (EasyCache's uncond branch follows
    cond) is named in the legend instead of being drawn on top of it; a threshold shared by all
    branches is drawn once.
    """
    shared = _shared_threshold(stats)
    drawn: dict[tuple, str] = {}
    for index, branch in enumerate(branches):
        records = [r for r in stats.timeline if r.branch == branch]
        colour = BRANCH_COLOURS[index % len(BRANCH_COLOURS)]
        measured = [r for r in records if r.metric is not None]
        if measured:
            series = tuple((r.step, r.metric, r.computed) for r in measured)
            if series in drawn:
                axes.plot([], [], color="none", label=f"{branch}: same as {drawn[series]}")
            else:
                drawn[series] = branch
                axes.plot([r.step for r in measured], [r.metric for r in measured], color=colour, linewidth=1,
                          label=f"{branch} metric")
                for computed in (True, False):
                    points = [r for r in measured if r.computed is computed]
                    axes.scatter([r.step for r in points], [r.metric for r in points], s=22, zorder=3, color=colour,
                                 marker=BRANCH_MARKERS[index % len(BRANCH_MARKERS)],
                                 facecolors=colour if computed else "white")
        if shared is None:
            limits = [(r.step, r.threshold) for r in records if r.threshold is not None]
            if limits:
                _draw_threshold(axes, limits, colour, f"{branch} threshold")
    if shared:
        _draw_threshold(axes, sorted(shared.items()), "#1a202c", "threshold")
    return bool(drawn or shared)


def timeline_figure(stats: CacheStats) -> Figure:
    """The two-panel timeline of one accelerated run."""
    branches = _branches(stats) or ["main"]
    steps = max((record.step for record in stats.timeline), default=-1) + 1
    steps = max(steps, stats.num_steps or 0, 1)
    figure = Figure(figsize=(9, 1.2 + 0.35 * len(branches) + 2.2), dpi=110, layout="constrained")
    decisions, metric = figure.subplots(2, 1, sharex=True, height_ratios=(0.35 * len(branches) + 0.4, 2.2))
    _draw_decisions(decisions, stats, branches, steps)
    speedup = f"{stats.estimated_speedup:.2f}x" if stats.computed else "n/a"
    decisions.set_title(f"{stats.method}: {stats.computed} of {stats.calls} denoiser calls computed, "
                        f"{stats.skipped} reused (denoiser-call speedup {speedup})", fontsize=10)
    if _draw_metric(metric, stats, branches):
        metric.set_ylabel("decision metric", fontsize=9)
        metric.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        metric.set_xlabel("denoising step   (filled: computed, hollow: reused; a step is reused while the metric "
                          "stays below the threshold)", fontsize=8)
    else:
        metric.text(0.5, 0.5, "no per-step decision metric (fixed schedules and attention methods record none)",
                    ha="center", va="center", transform=metric.transAxes, fontsize=9, color="#4a5568")
        metric.set_yticks([])
        metric.set_xlabel("denoising step", fontsize=8)
    metric.set_xlim(-0.5, steps - 0.5)
    metric.xaxis.get_major_locator().set_params(integer=True)
    return figure


def save_timeline_png(stats: CacheStats, path: str | Path) -> Path:
    """Render the timeline of ``stats`` to a PNG file (the chunk picture for chunk-level methods)."""
    from .chunk_plot import chunk_figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    (chunk_figure(stats) if stats.chunk_timeline else timeline_figure(stats)).savefig(path, format="png")
    return path
