"""The chunk × iteration picture of a chunk-level method (FlowCache): what happened to every chunk.

One row per chunk of latent frames (window-local, windows side by side along the x axis), one column
per iteration of the CFG branch shown; each cell is coloured by the chunk's state: computed,
reused (its stored residual added, no block run), cached (finished, read from the KV cache),
encoded (finished, forwarded once to fill the cache), context (forwarded only as context) or
skipped (not started, not forwarded). Drawn with matplotlib's object API (thread-safe).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mmcache.stats import CacheStats

STATES = ("computed", "reused", "cached", "encoded", "context", "skipped")
COLOURS = ("#2b6cb0", "#f6ad55", "#68d391", "#276749", "#cbd5e0", "#ffffff")


def chunk_grid(stats: CacheStats, branch: str) -> tuple[np.ndarray, list[int]]:
    """``[chunks, iterations]`` state indices (NaN where none) of ``branch``, and where each window starts."""
    records = [r for r in stats.chunk_timeline if r.branch == branch]
    windows = sorted({r.window for r in records})
    lengths = {w: 1 + max(r.iteration for r in records if r.window == w) for w in windows}
    starts, offset = {}, 0
    for window in windows:
        starts[window], offset = offset, offset + lengths[window]
    grid = np.full((1 + max(r.chunk for r in records), offset), np.nan)
    for record in records:
        grid[record.chunk, starts[record.window] + record.iteration] = STATES.index(record.state)
    return grid, [starts[w] for w in windows]


def chunk_figure(stats: CacheStats) -> Figure:
    """The picture of one run's chunk timeline (the ``cond`` branch when there is one)."""
    branches = list(dict.fromkeys(record.branch for record in stats.chunk_timeline))
    branch = "cond" if "cond" in branches else branches[0]
    grid, starts = chunk_grid(stats, branch)
    figure = Figure(figsize=(9, 1.6 + 0.3 * grid.shape[0]), dpi=110, layout="constrained")
    axes = figure.subplots()
    axes.imshow(np.ma.masked_invalid(grid), aspect="auto", interpolation="nearest", vmin=0, vmax=len(STATES) - 1,
                cmap=ListedColormap(COLOURS), extent=(-0.5, grid.shape[1] - 0.5, grid.shape[0] - 0.5, -0.5))
    for start in starts[1:]:
        axes.axvline(start - 0.5, color="#1a202c", linewidth=1.2)
    counts = stats.chunk_counts
    saved = f", {stats.compute_saved:.0%} of the block-stack work saved" if stats.compute_saved is not None else ""
    axes.set_title(f"{stats.method} ({branch} branch): " + ", ".join(f"{counts[s]} {s}" for s in STATES if s in counts)
                   + saved, fontsize=10)
    axes.set_yticks(range(grid.shape[0]))
    axes.set_ylabel("chunk", fontsize=9)
    axes.set_xlabel("iteration (windows separated by lines)", fontsize=9)
    axes.legend(handles=[Patch(facecolor=colour, edgecolor="#a0aec0", label=state)
                         for state, colour in zip(STATES, COLOURS) if state in counts],
                loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return figure
