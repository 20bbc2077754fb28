"""Answering held-out clips with and without a KV method, and summarizing the answers and their costs.

Shared by ``mmcache eval --task vqa`` and ``bench_vlm_kv``: one clip is asked its questions one greedy
answer at a time (``answer_clip``), the method's ``KVStats`` summed over the answers (``kv_costs``);
``summarize`` turns one method's per-clip rows into accuracy, agreement with the plain model's answers,
the prompt's KV kept, KV bytes held and prefill attention FLOPs over the plain model's, and the median
time ratios to the plain model measured in the same loop.
"""

from __future__ import annotations

import statistics
from typing import Any

COST_FIELDS = ("prompt_tokens", "prompt_kept", "important", "kv_bytes_full", "kv_bytes_held", "flops_dense", "flops")


def kv_costs(runs: list[Any]) -> dict[str, Any]:
    """Sums over the answers' ``KVStats`` (``None`` everywhere for the plain model, which has none)."""
    if not runs:
        return dict.fromkeys(COST_FIELDS)
    layers = [layer for stats in runs for layer in stats.layers]
    important = [layer.important_tokens for layer in layers]
    return {
        "prompt_tokens": sum(layer.prefill_tokens for layer in layers),
        "prompt_kept": sum(layer.prefill_kept for layer in layers),
        "important": None if None in important else sum(important),
        "kv_bytes_full": sum(stats.kv_bytes_full for stats in runs),
        "kv_bytes_held": sum(stats.kv_bytes_held for stats in runs),
        "flops_dense": sum(stats.prefill_attention_flops_dense for stats in runs),
        "flops": sum(stats.prefill_attention_flops for stats in runs),
    }


def answer_clip(pipe: Any, frames: Any, questions: list[str], config: Any) -> dict[str, Any]:
    """The answers to ``questions`` about one clip under ``config`` (``None``: plain), their times and KV costs."""
    import mmcache
    from mmcache.pipelines.vlm.measure import measured_answer

    handle = mmcache.enable(pipe.model, config) if config is not None else None
    answers, stats = [], []
    try:
        for question in questions:
            answers.append(measured_answer(pipe, frames, question))
            if handle is not None:
                stats.append(handle.stats())
    finally:
        if handle is not None:
            handle.disable()
    return {"answers": [run.answer for run in answers], "seconds": sum(run.seconds for run in answers),
            "prefill_seconds": sum(run.prefill_seconds for run in answers), **kv_costs(stats)}


def _ratio(rows: list[dict[str, Any]], part: str, whole: str) -> float:
    if rows[0][part] is None:
        return 1.0  # the plain model: nothing dropped, nothing skipped
    return sum(row[part] for row in rows) / sum(row[whole] for row in rows)


def summarize(rows: list[dict[str, Any]], plain: list[dict[str, Any]], examples: Any) -> dict[str, Any]:
    """One method's rows (one per clip, in the order of ``examples``) against the plain model's ``plain`` rows."""
    from mmcache.pipelines.vlm.evaluate import score_answers

    given = [answer for row in rows for answer in row["answers"]]
    reference = [answer for row in plain for answer in row["answers"]]
    scored = score_answers(examples, given)
    return {
        "items": len(given),
        "accuracy": scored["overall"]["accuracy"],
        "by_kind": {kind: share["accuracy"] for kind, share in scored["by_kind"].items()},
        "agreement": sum(a == b for a, b in zip(given, reference)) / len(given),
        "prompt_kept": _ratio(rows, "prompt_kept", "prompt_tokens"),
        "important": None if rows[0]["important"] is None else _ratio(rows, "important", "prompt_tokens"),
        "kv_bytes": _ratio(rows, "kv_bytes_held", "kv_bytes_full"),
        "flops": _ratio(rows, "flops", "flops_dense"),
        "time": statistics.median(row["seconds"] / row["plain_seconds"] for row in rows),
        "prefill_time": statistics.median(row["prefill_seconds"] / row["plain_prefill_seconds"] for row in rows),
    }


def clip_examples(examples: Any, clip: int) -> Any:
    """The examples of clip ``clip`` of an ``evaluation_set`` (its frames asked every question, in ``KINDS`` order)."""
    from mmcache.pipelines.vlm.questions import KINDS

    return examples.rows(clip * len(KINDS), (clip + 1) * len(KINDS))


def clips_examples(examples: Any, clips: list[int]) -> Any:
    """The examples of the clips ``clips`` of an ``evaluation_set``, in that order."""
    import dataclasses

    parts = [clip_examples(examples, clip) for clip in clips]
    return type(examples)(*([value for part in parts for value in getattr(part, field.name)]
                            for field in dataclasses.fields(examples)))
