"""``results.json`` and ``report.md`` of ``mmcache eval --task vqa``, from every clip's records.

A method's scores cover the clips both it and the plain model answered (``plain_task_outcomes``); its
row also says how many clips it answered, failed or has no record for, and a "Failures" section names
each error."""

from __future__ import annotations

import datetime
from typing import Any

from mmcache.files import atomic_write_json, atomic_write_text

from .calibrated_method import CalibratedMethod
from .plain_task_outcomes import outcome_of, outcomes, paired
from .plain_task_specs import PLAIN
from .report_text import failures_section, number_text, on_device
from .schemas import VqaResults
from .store import ResultStore
from .versions import versions
from .vlm_answers import clip_examples, clips_examples, summarize

RESULTS_SCHEMA_VERSION = 2


NO_SCORES = {"items": 0, "accuracy": None, "by_kind": {}, "agreement": None, "prompt_kept": None, "important": None,
             "kv_bytes": None, "flops": None, "time": None, "prefill_time": None}  # no clip answered by both


def _percent(value: float | None) -> str:
    return number_text(value, ".1%")


def method_table(summary: dict[str, dict[str, Any]], kinds: tuple[str, ...]) -> list[str]:
    """One row per method: accuracy (overall, per question kind), agreement, KV kept, bytes, FLOPs, time, clips."""
    columns = ["method", "accuracy", *kinds, "agreement with plain", "prompt KV kept", "KV bytes held / plain",
               "prefill attention FLOPs / dense", "answer time vs plain (median)", "items", "clips"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for label, row in summary.items():
        cells = [f"`{label}`", _percent(row["accuracy"]), *(_percent(row["by_kind"].get(kind)) for kind in kinds),
                 _percent(row["agreement"]), _percent(row["prompt_kept"]), number_text(row["kv_bytes"], ".3f"),
                 number_text(row["flops"], ".3f"), number_text(row["time"], ".2f", "x"), str(row["items"]),
                 outcome_of(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_report(results: dict[str, Any]) -> str:
    run = results["run"]
    kinds = tuple(run["question_kinds"])
    calibrated = [f"`{label}`: {name}" for label, name in run["calibrations"].items()]
    lines = ["# mmcache eval: video question answering", "",
             f"Model `{run['model']}`{on_device(run)}, {run['clips']} held-out clips × {len(kinds)} questions "
             f"({', '.join(kinds)}), greedy answers, exact match.", ""]
    if calibrated:
        clips = run["calibration_clips"]
        lines += [f"PrefixKV calibrated on {clips} clip{'s' if clips != 1 else ''} of the training captions × "
                  f"{len(kinds)} questions (calibration/): {'; '.join(calibrated)}.", ""]
    lines += [*method_table(results["summary"], kinds), "",
              "Agreement: share of answers equal to the plain model's. Prompt KV kept: prompt tokens kept over prompt "
              "tokens, all layers. KV bytes held / plain: the cache after each answer over the plain cache's. Prefill "
              "attention FLOPs: computed (scoring passes included) over the dense prefill's. Answer time: median over "
              "clips of the method's time over the plain model's on the same clip, measured in the same loop. All "
              "of them over the clips both the method and the plain model answered (items: their answers).", "",
              *failures_section(results["summary"])]
    return "\n".join(lines)


def _summary(method: CalibratedMethod, records: dict[str, list[dict[str, Any] | None]], examples: Any) -> dict[str, Any]:
    """The method's outcomes, and its scores over the clips both it and the plain model answered."""
    own, plain = records[method.label], records[PLAIN]
    both = paired(own, plain)
    scores = summarize([own[clip] for clip in both], [plain[clip] for clip in both],
                       clips_examples(examples, both)) if both else NO_SCORES
    return {**method.describe(), **outcomes(own), **scores}


def _clip_row(index: int, examples: Any, methods: list[CalibratedMethod],
              records: dict[str, list[dict[str, Any] | None]]) -> dict[str, Any]:
    """One clip: caption, questions, expected answers, and each method's answers (``None``: failed or missing)."""
    rows = clip_examples(examples, index)
    made = {method.label: records[method.label][index] for method in methods}
    return {"clip": index, "caption": rows.captions[0], "questions": rows.questions, "expected": rows.answers,
            "answers": {label: record["answers"] if record and record["status"] == "done" else None
                        for label, record in made.items()}}


def write_results(store: ResultStore, methods: list[CalibratedMethod], records: dict[str, list[dict[str, Any] | None]],
                  examples: Any, run_info: dict[str, Any]) -> dict[str, Any]:
    """Summarize every method's records (one per clip or ``None``, plain first) and write results.json and
    report.md."""
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "task": "vqa",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions("transformers", "torch"),
        "run": {**run_info, "methods": [method.describe() for method in methods]},
        "summary": {method.label: _summary(method, records, examples) for method in methods},
        "clips": [_clip_row(index, examples, methods, records) for index in range(len(records[PLAIN]))],
    }
    VqaResults.model_validate(results)  # what readers will validate it against
    atomic_write_json(store.root / "results.json", results)
    atomic_write_text(store.root / "report.md", render_report(results))
    return results
