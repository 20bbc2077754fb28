"""``pareto.png``: speedup against PSNR, one curve per method (its settings sorted by speedup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmcache.files import atomic_write_bytes

from .metrics.availability import AVAILABLE, Availability, unavailable


def plot_availability() -> Availability:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return unavailable("matplotlib is not installed (pip install \"mmcache[eval]\"); pareto.png not written")
    return AVAILABLE


def _curves(summaries: dict[str, Any]) -> dict[str, list[tuple[float, float, str]]]:
    curves: dict[str, list[tuple[float, float, str]]] = {}
    for label, summary in summaries.items():
        if summary["kind"] == "baseline" or summary["speedup_wall"] is None or summary["psnr_db"] is None:
            continue
        curves.setdefault(summary["name"], []).append((summary["speedup_wall"], summary["psnr_db"], label))
    return {name: sorted(points) for name, points in curves.items()}


def write_pareto_plot(summaries: dict[str, Any], path: Path, title: str) -> Path:
    """Write the plot (PNG, atomically); methods without finished items are left out."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, points in _curves(summaries).items():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        axes.plot(xs, ys, marker="o", label=name)
        for x, y, label in points:
            axes.annotate(label[len(name) + 1:] or name, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    axes.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
    axes.set_xlabel("speedup over the baseline (wall clock)")
    axes.set_ylabel("PSNR vs baseline (dB)")
    axes.set_title(title, fontsize=9)
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, "no finished method to plot", ha="center", va="center", transform=axes.transAxes)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return atomic_write_bytes(path, buffer.getvalue())
