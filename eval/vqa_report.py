"""``results.json`` and ``report.md`` of ``mmcache eval --task vqa``, from every clip's records."""

from __future__ import annotations

import datetime
from typing import Any

from mmcache.files import atomic_write_json, atomic_write_text

from .calibrated_method import CalibratedMethod
from .plain_task_specs import PLAIN
from .schemas import VqaResults
from .store import ResultStore
from .versions import versions
from .vlm_answers import clip_examples, summarize

RESULTS_SCHEMA_VERSION = 1


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def method_table(summary: dict[str, dict[str, Any]], kinds: tuple[str, ...]) -> list[str]:
    """One row per method: accuracy (overall, per question kind), agreement, KV kept, bytes, FLOPs, time."""
    columns = ["method", "accuracy", *kinds, "agreement with plain", "prompt KV kept", "KV bytes held / plain",
               "prefill attention FLOPs / dense", "answer time vs plain (median)", "items"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for label, row in summary.items():
        cells = [f"`{label}`", _percent(row["accuracy"]), *(_percent(row["by_kind"].get(kind)) for kind in kinds),
                 _percent(row["agreement"]), _percent(row["prompt_kept"]), f"{row['kv_bytes']:.3f}",
                 f"{row['flops']:.3f}", f"{row['time']:.2f}x", str(row["items"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_report(results: dict[str, Any]) -> str:
    run = results["run"]
    kinds = tuple(run["question_kinds"])
    calibrated = [f"`{label}`: {name}" for label, name in run["calibrations"].items()]
    lines = ["# mmcache eval: video question answering", "",
             f"Model `{run['model']}` on {run['device']}, {run['clips']} held-out clips × {len(kinds)} questions "
             f"({', '.join(kinds)}), greedy answers, exact match.", ""]
    if calibrated:
        clips = run["calibration_clips"]
        lines += [f"PrefixKV calibrated on {clips} clip{'s' if clips != 1 else ''} of the training captions × "
                  f"{len(kinds)} questions (calibration/): {'; '.join(calibrated)}.", ""]
    lines += [*method_table(results["summary"], kinds), "",
              "Agreement: share of answers equal to the plain model's. Prompt KV kept: prompt tokens kept over prompt "
              "tokens, all layers. KV bytes held / plain: the cache after each answer over the plain cache's. Prefill "
              "attention FLOPs: computed (scoring passes included) over the dense prefill's. Answer time: median over "
              "clips of the method's time over the plain model's on the same clip, measured in the same loop.", ""]
    return "\n".join(lines)


def write_results(store: ResultStore, methods: list[CalibratedMethod], records: dict[str, list[dict[str, Any]]],
                  examples: Any, run_info: dict[str, Any]) -> dict[str, Any]:
    """Summarize every method's records (one per clip, plain first) and write results.json and report.md."""
    summary = {method.label: {**method.describe(), **summarize(records[method.label], records[PLAIN], examples)}
               for method in methods}
    clips = [{"clip": row["clip"], "caption": row["caption"], "questions": row["questions"],
              "expected": clip_examples(examples, index).answers,
              "answers": {method.label: records[method.label][index]["answers"] for method in methods}}
             for index, row in enumerate(records[PLAIN])]
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "task": "vqa",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions("transformers", "torch"),
        "run": {**run_info, "methods": [method.describe() for method in methods]},
        "summary": summary,
        "clips": clips,
    }
    VqaResults.model_validate(results)  # what readers will validate it against
    atomic_write_json(store.root / "results.json", results)
    atomic_write_text(store.root / "report.md", render_report(results))
    return results
