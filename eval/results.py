"""Merging every process's records into ``results.json``, ``report.md`` and ``pareto.png``."""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any, Sequence

from mmcache.files import atomic_write_json, atomic_write_text

from .aggregate import collect_records, item_rows, summarize
from .metrics.availability import Availability
from .pareto import plot_availability, write_pareto_plot
from .report_md import render_report
from .job import EvalJob
from .schemas import Results
from .validated_files import as_dict, read_validated
from .vbench_runner import run_vbench, vbench_availability
from .versions import versions

RESULTS_SCHEMA_VERSION = 2


@dataclasses.dataclass
class VBenchRequest:
    enabled: bool
    dimensions: Sequence[str]


def _vbench_results(job: EvalJob, records: dict[str, list[Any]], request: VBenchRequest) -> tuple[Availability, dict]:
    if not request.enabled:
        return Availability(False, "turned off (--vbench off)"), {"reason": "turned off (--vbench off)"}
    status, dimensions, skipped = vbench_availability(request.dimensions)
    section: dict[str, Any] = {"dimensions": dimensions, "skipped_dimensions": skipped, "runs": {}}
    if not status.available:
        return status, {**section, "reason": status.reason}
    for method in job.methods:
        finished = [item for item, record in zip(job.items, records[method.label])
                    if record is not None and record.get("status") == "done"]
        if not finished:
            section["runs"][method.label] = {"status": "skipped", "reason": "no finished videos"}
            continue
        folder = job.store.root / "videos" / method.label
        prompts = {item.video_name: item.prompt for item in finished}
        extra = sorted(path.name for path in folder.glob("*.mp4") if path.name not in prompts)
        if extra:
            section["runs"][method.label] = {"status": "skipped",
                                             "reason": f"{folder} holds videos outside this run: {extra[:3]}"}
            continue
        section["runs"][method.label] = run_vbench(folder, prompts, job.store.root / "vbench" / method.label,
                                                   dimensions)
    return status, section


def write_results(job: EvalJob, run_info: dict[str, Any], availability: dict[str, Any],
                  vbench: VBenchRequest) -> dict[str, Any]:
    """Merge the records of every process and write the three result files; returns results.json's data."""
    records = collect_records(job.store, job.items, job.methods)
    summary = summarize(records, job.methods, job.items)
    vbench_status, vbench_section = _vbench_results(job, records, vbench)
    plot = plot_availability()
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions("diffusers", "torch"),
        "run": {**run_info, "methods": [method.describe() for method in job.methods]},
        "availability": {**availability, "vbench": vbench_status.as_dict(), "pareto_plot": plot.as_dict()},
        "summary": summary,
        "vbench": vbench_section,
        "items": item_rows(records, job.items),
    }
    Results.model_validate(results)  # what readers will validate it against
    root = job.store.root
    atomic_write_json(root / "results.json", results)
    atomic_write_text(root / "report.md", render_report(results))
    if plot.available:
        write_pareto_plot(summary, root / "pareto.png",
                          f"{run_info['model']}, {run_info['steps']} steps, {len(job.items)} prompt x seed items")
    return results


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """A ``results.json`` as a dict, validated (``InvalidFileError`` naming the file and field otherwise)."""
    return as_dict(read_validated(path, Results))
