"""Merging item records into one summary per method (speedup, fidelity, flicker, adherence, memory).

Speedups are medians over items of the per-item speedup, over the items where both the baseline
and the method finished and neither time is an outlier (``timing_outliers``: one stalled run
cannot move them); fidelity and per-video scores are means over the method's finished items.
"""

from __future__ import annotations

from statistics import mean
from typing import Any

from .methods import BASELINE, EvalMethod
from .metrics.suite import PROXY_DYNAMIC_DEGREE
from .plan import EvalItem
from .store import ResultStore
from .timing_outliers import describe_outliers, median_speedup, outliers_of


def collect_records(store: ResultStore, items: list[EvalItem],
                    methods: list[EvalMethod]) -> dict[str, list[dict[str, Any] | None]]:
    """Label → one record per item (None where missing, invalid, made for other parameters, or its video
    is damaged)."""
    return {method.label: [store.current_record(method.label, item, method.fingerprint) for item in items]
            for method in methods}


def _done(record: dict[str, Any] | None) -> bool:
    return record is not None and record.get("status") == "done"


def _mean(values: list[Any]) -> float | None:
    present = [float(value) for value in values if value is not None]
    return mean(present) if present else None


def _adherence(records: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [record["metrics"].get("adherence") or {} for record in records]
    available = [score for score in scores if score.get("available")]
    if not available:
        reasons = sorted({score.get("reason") or "not computed" for score in scores})
        return {"rate": None, "scored": 0, "reason": "; ".join(reasons) if reasons else "no finished videos"}
    return {"rate": mean(1.0 if score.get("ok") else 0.0 for score in available), "scored": len(available)}


def summarize_method(method: EvalMethod, records: list[dict[str, Any] | None],
                     baseline: list[dict[str, Any] | None], items: list[EvalItem]) -> dict[str, Any]:
    done = [record for record in records if _done(record)]
    failed = [record for record in records if record is not None and record.get("status") == "failed"]
    paired = [(base, own) for base, own in zip(baseline, records) if _done(base) and _done(own)]
    own_outliers, base_outliers = outliers_of(records), outliers_of(baseline)
    excluded = [bool(mine or base) for mine, base in zip(own_outliers, base_outliers)]
    done_only = [record if _done(record) else None for record in records]
    base_done = [record if _done(record) else None for record in baseline]
    speedup_wall, speedup_items = median_speedup(base_done, done_only, "wall_seconds", excluded)
    speedup_denoiser, _ = median_speedup(base_done, done_only, "denoiser_seconds", excluded)
    metric = lambda name: [record["metrics"].get(name) for record in done]  # noqa: E731
    errors: dict[str, int] = {}
    for record in failed:
        errors[record.get("error", "unknown error")] = errors.get(record.get("error", "unknown error"), 0) + 1
    calls = sum(record["denoiser_calls"] for record in done)
    computed = sum(record["denoiser_computed"] for record in done)
    peaks = [record.get("peak_memory_bytes") for record in done if record.get("peak_memory_bytes") is not None]
    dynamic = [1.0 if value else 0.0 for value in metric(PROXY_DYNAMIC_DEGREE) if value is not None]
    return {
        **method.describe(),
        "items": len(records),
        "done": len(done),
        "failed": len(failed),
        "missing": len(records) - len(done) - len(failed),
        "errors": errors,
        "wall_seconds": _mean([record["wall_seconds"] for record in done]),
        "denoiser_seconds": _mean([record["denoiser_seconds"] for record in done]),
        "speedup_wall": speedup_wall if method.name != BASELINE else (1.0 if paired else None),
        "speedup_denoiser": speedup_denoiser if method.name != BASELINE else (1.0 if paired else None),
        "speedup_items": speedup_items,
        "timing_outliers": describe_outliers(method.label, [item.describe() for item in items], records,
                                             own_outliers),
        "denoiser_calls": calls,
        "denoiser_computed": computed,
        # Peers skip work inside the denoiser, which mmcache sees as one (computed) call.
        "calls_saved": (1.0 - computed / calls) if calls and method.kind != "peer" else None,
        "compute_saved": _compute_saved(paired),
        "psnr_db": _mean(metric("psnr_db")) if method.name != BASELINE else None,
        "ssim": _mean(metric("ssim")) if method.name != BASELINE else None,
        "lpips": _mean(metric("lpips")) if method.name != BASELINE else None,
        "temporal_flickering": _mean(metric("temporal_flickering")),
        PROXY_DYNAMIC_DEGREE: mean(dynamic) if dynamic else None,
        "adherence": _adherence(done),
        "peak_memory_bytes": max(peaks) if peaks else None,
    }


def _compute_saved(paired: list[tuple[dict[str, Any], dict[str, Any]]]) -> float | None:
    """1 - the method's linear-layer MACs over the baseline's, on the items where both were counted."""
    counted = [(b["denoiser_macs"], o["denoiser_macs"]) for b, o in paired
               if b.get("denoiser_macs") and o.get("denoiser_macs") is not None]
    if not counted:
        return None
    return 1.0 - sum(own for _, own in counted) / sum(base for base, _ in counted)


def summarize(records: dict[str, list[dict[str, Any] | None]], methods: list[EvalMethod],
              items: list[EvalItem]) -> dict[str, Any]:
    baseline = records[BASELINE]
    return {method.label: summarize_method(method, records[method.label], baseline, items) for method in methods}


def item_rows(records: dict[str, list[dict[str, Any] | None]], items: list[EvalItem]) -> list[dict[str, Any]]:
    """One row per (item, method) for results.json, with per-item speedups against the baseline."""
    rows = []
    outliers = {label: outliers_of(per_item) for label, per_item in records.items()}
    for index, item in enumerate(items):
        base = records[BASELINE][index]
        for label, per_item in records.items():
            record = per_item[index]
            if record is None:
                rows.append({"item": item.describe(), "method": label, "status": "missing"})
                continue
            row = {key: value for key, value in record.items()
                   if key not in ("schema", "fingerprint", "error_detail", "item")}
            row["item"] = item.describe()
            row["timing_outlier"] = sorted(outliers[label][index]) or None
            if _done(record) and _done(base) and label != BASELINE:
                row["speedup_wall"] = base["wall_seconds"] / record["wall_seconds"]
                row["speedup_denoiser"] = (base["denoiser_seconds"] / record["denoiser_seconds"]
                                           if base.get("denoiser_seconds") and record.get("denoiser_seconds")
                                           else None)
            rows.append(row)
    return rows
