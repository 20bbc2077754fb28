"""``report.md``: one table row per method, then what was unavailable and what failed."""

from __future__ import annotations

from typing import Any

from .metrics.suite import PROXY_DYNAMIC_DEGREE
from .report_text import DASH, failures_section, number_text as _number, outcome_text
from .timing_outliers import OUTLIER_FACTOR


def _memory(value: int | None) -> str:
    return DASH if value is None else f"{value / 2**30:.2f} GiB"


def _status(summary: dict[str, Any]) -> str:
    return outcome_text(summary["done"], summary["items"], summary["failed"], summary["missing"])


def method_table(summaries: dict[str, Any]) -> list[str]:
    lines = ["| method | speedup (wall) | speedup (denoiser) | calls saved | compute saved | PSNR (dB) | SSIM | LPIPS | "
             "flicker | adherence | peak memory | items |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, s in summaries.items():
        adherence = s["adherence"]["rate"]
        lines.append(
            f"| `{label}` | {_number(s['speedup_wall'], '.2f', 'x')} | {_number(s['speedup_denoiser'], '.2f', 'x')} | "
            f"{_number(s['calls_saved'] * 100 if s['calls_saved'] is not None else None, '.0f', '%')} | "
            f"{_number(s['compute_saved'] * 100 if s.get('compute_saved') is not None else None, '.0f', '%')} | "
            f"{_number(s['psnr_db'], '.2f')} | {_number(s['ssim'], '.4f')} | {_number(s['lpips'], '.4f')} | "
            f"{_number(s['temporal_flickering'], '.4f')} | "
            f"{_number(adherence * 100 if adherence is not None else None, '.0f', '%')} | "
            f"{_memory(s['peak_memory_bytes'])} | {_status(s)} |")
    return lines


def _settings(run: dict[str, Any]) -> list[str]:
    shown = ("model", "steps", "height", "width", "num_frames", "guidance_scale", "dtype", "seeds", "num_prompts",
             "prompt_source", "device", "hardware", "processes")
    return [f"- {key}: `{run.get(key)}`" for key in shown if run.get(key) is not None]


def _vbench(vbench: dict[str, Any]) -> list[str]:
    runs = vbench.get("runs") or {}
    if not runs:
        return [f"VBench did not run: {vbench.get('reason') or 'not requested'}."]
    dimensions = sorted({name for run in runs.values() for name in (run.get("dimensions") or {})})
    lines = ["| method | " + " | ".join(dimensions) + " | status |", "|---" * (len(dimensions) + 2) + "|"]
    for label, run in runs.items():
        scores = run.get("dimensions") or {}
        cells = " | ".join(_number(scores.get(name), ".4f") for name in dimensions)
        reason = f": {run['reason']}" if run.get("reason") else ""
        lines.append(f"| `{label}` | {cells} | {run.get('status')}{reason} |")
    return lines


def _outliers(summaries: dict[str, Any]) -> list[str]:
    rows = [row for s in summaries.values() for row in s.get("timing_outliers", [])]
    if not rows:
        return []
    lines = ["## Timing outliers", "",
             f"Times more than {OUTLIER_FACTOR:g}x the median of the same method's other items (a stall of the machine "
             "or a one-off start-up cost). These items are left out of the speedups (a baseline outlier for every "
             "method); fidelity is unaffected.", ""]
    for row in rows:
        timing = "wall" if row["timing"] == "wall_seconds" else "denoiser"
        lines.append(f"- `{row['method']}`, prompt {row['prompt']!r} seed {row['seed']}: {timing} time "
                     f"{row['seconds']:.2f} s, {row['factor']:.1f}x the median of its other items "
                     f"({row['median_of_others']:.2f} s)")
    return lines + [""]


def render_report(results: dict[str, Any]) -> str:
    summaries, availability = results["summary"], results["availability"]
    lines = ["# mmcache eval report", "", *_settings(results["run"]), "", *method_table(summaries), "",
             "Speedups: median over items of baseline time / method time, on the items both finished, leaving out "
             "items with a timing outlier (below). Calls saved: share of "
             "denoiser calls reused (mmcache methods; peers skip work inside the denoiser, see the denoiser "
             "speedup). PSNR/SSIM/LPIPS: against the baseline of the same prompt and seed. Flicker: VBench "
             "temporal_flickering of the written video (higher is steadier). Adherence: share of videos the "
             "reference-model detector finds matching their caption.", ""]
    missing = {name: status["reason"] for name, status in availability.items() if not status.get("available")}
    if missing:
        lines += ["## Unavailable", ""] + [f"- {name}: {reason}" for name, reason in missing.items()] + [""]
    lines += _outliers(summaries)
    lines += failures_section(summaries)
    lines += ["## Proxies", "",
              f"`{PROXY_DYNAMIC_DEGREE}` (share of videos judged dynamic by VBench's rule with OpenCV flow instead "
              "of RAFT; not a VBench score): "
              + ", ".join(f"`{label}` {_number(s[PROXY_DYNAMIC_DEGREE], '.2f')}" for label, s in summaries.items()),
              "", "## VBench", "", *_vbench(results.get("vbench") or {}), ""]
    return "\n".join(lines)
