"""The GPU suite's report: merged with an earlier report in the same folder, written as JSON and markdown.

A report holds the latest run's machine and command, the list of runs that wrote into the folder
(``runs``), and one record per benchmark; a benchmark run again replaces only its own record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import gpu_benchmarks
from .gpu_benchmarks import resolve, scalar_table

REPORT_JSON = "gpu_suite.json"
REPORT_MD = "gpu_suite.md"


class ReportMismatch(ValueError):
    """The folder already holds a report that must not be merged with this run."""


def previous_report(out: Path, smoke: bool) -> dict[str, Any] | None:
    """The report already in ``out`` (None if there is none); smoke and GPU runs are never merged."""
    path = out / REPORT_JSON
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text())
        kind = bool(report["smoke"])
        report["benchmarks"]  # noqa: B018 - a report without records is not one to merge into
    except (ValueError, KeyError, TypeError) as error:
        raise ReportMismatch(f"{path} is not a GPU suite report ({error}); choose another --out or delete it.")
    if kind != smoke:
        raise ReportMismatch(f"{path} holds a {'smoke' if kind else 'GPU'} run and this is a "
                             f"{'smoke' if smoke else 'GPU'} run; choose another --out or delete it.")
    return report


def new_report(run: dict[str, Any], smoke: bool, previous: dict[str, Any] | None) -> dict[str, Any]:
    """This run's report, carrying over the earlier runs and records of ``previous``."""
    earlier = list(previous.get("runs", [])) if previous else []
    if previous and not earlier:  # a report written before runs were listed
        earlier = [{key: previous.get(key) for key in ("command", "started_at", "seconds", "machine")}]
    return {**run, "smoke": smoke, "runs": [*earlier, dict(run)],
            "benchmarks": dict(previous["benchmarks"]) if previous else {}}


def record_benchmark(report: dict[str, Any], name: str, record: dict[str, Any], seconds: float) -> None:
    """Put one benchmark's record into the report and bring this run's time up to date."""
    report["benchmarks"][name] = record
    report["seconds"] = report["runs"][-1]["seconds"] = seconds
    report["runs"][-1]["benchmarks"] = [*report["runs"][-1].get("benchmarks", []), name]


def rendered(benchmark: Any, result: dict[str, Any]) -> list[str]:
    """The entry's own markdown of a result; its numbers as a list when that renderer cannot read it."""
    try:
        render = resolve(benchmark.markdown) if benchmark.markdown else scalar_table
        return render(result)
    except Exception as error:  # noqa: BLE001 - a partial or unexpected result must not lose the report
        return [f"(not rendered: {type(error).__name__}: {error}; the numbers are in {REPORT_JSON})", "",
                *scalar_table(result)]


def outcome_line(record: dict[str, Any]) -> str:
    """One line that says why a benchmark did not finish cleanly and what its results below are."""
    label = record.get("outcome", "failed").capitalize()
    if "result" not in record:
        label = "Failed"
    line = f"**{label}**: {record['error']} (see `{record['log']}`)."
    if "result" in record:
        line += (" The results it wrote before that are below." if record.get("partial")
                 else " Its results, failing checks included, are below.")
    return line


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown: machine and commands, then one section per benchmark."""
    info = report["machine"]
    smoke = " (smoke run: sizes too small to mean anything)" if report["smoke"] else ""
    lines = [f"Machine: {info['device']}, CUDA {info['cuda']}, torch {info['torch']}, triton {info['triton']}, "
             f"diffusers {info['diffusers']}{smoke}.", ""]
    for run in report.get("runs") or [report]:
        device = (run.get("machine") or {}).get("device")
        elsewhere = f", on {device}" if device and device != info["device"] else ""
        lines += [f"Command: `{run['command']}` ({run['seconds'] or 0:.0f} s{elsewhere})", ""]
    for benchmark in gpu_benchmarks.BENCHMARKS:
        record = report["benchmarks"].get(benchmark.name)
        if record is None:
            continue
        lines += [f"#### {benchmark.name}: {benchmark.summary}", "",
                  f"Arguments: `{' '.join(record['arguments'])}`, {record['seconds']:.0f} s.", ""]
        if record["status"] != "ok":
            lines += [outcome_line(record), ""]
        if "result" in record:
            lines += rendered(benchmark, record["result"])
        lines.append("")
    return "\n".join(lines)


def write_report(out: Path, report: dict[str, Any]) -> None:
    from mmcache.files import atomic_write_json, atomic_write_text

    atomic_write_json(out / REPORT_JSON, report)
    atomic_write_text(out / REPORT_MD, markdown(report))
