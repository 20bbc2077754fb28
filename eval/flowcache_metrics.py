"""How well each FlowCache metric predicts a chunk's output change on a model, and the ``rescale`` polynomial it fits.

FlowCache reuses a chunk while the accumulated change of a cheap signal stays under a threshold: the chunk's
timestep modulation (``metric="modulation"``, the paper's SkyReels setting, whose ``rescale`` polynomial maps that
change to the output's, TeaCache-style), its patch-embedded input (``"input"``, the MAGI-1 setting) or its noisy
latent (``"rate"``, which scales it by EasyCache's transformation rate). The decision is only as good as that
signal's change follows the change of the chunk's output. This runs the exact restructured pipeline
(``threshold=0``: nothing reused) on training captions and records, per CFG branch, chunk and step, the relative L1
change of each signal and of the chunk's denoiser output since its previous step; then fits, per metric, a
polynomial of the output change in the signal change (``numpy.polyfit``) and reports its R², the rank correlation
(Spearman's ρ: thresholds act on the ordering) and the coefficients, highest power first, as ``rescale`` takes
them::

    python -m mmcache.eval.flowcache_metrics --model toy-ar --prompts 4 --frames 41 --out runs/flowcache-metrics

``OUT/metrics.json`` (written atomically) holds every number and ``OUT/metrics.md`` the table.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcache.methods.flowcache import METRICS, relative_l1

from .bench_outputs import invocation, write_outputs


class ChangeRecorder:
    """Relative L1 changes between consecutive steps of each (branch, chunk) signal and output.

    A chunk's steps restart in every window: each run of consecutive steps is its own segment, so a window's
    chunk 0 is never paired with the previous window's."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str, int], tuple[int, int, torch.Tensor]] = {}  # → (segment, step, tensor)
        self.changes: dict[tuple, float] = {}  # (kind, run, branch, chunk, segment, step) → change
        self.run = 0

    def __call__(self, kind: str, branch: str, chunk: int, step: int, tensor: torch.Tensor) -> None:
        key = (kind, branch, chunk)
        now = tensor.detach().float()
        last = self._last.get(key)
        if last is not None and last[1] == step - 1:
            segment = last[0]
            change = relative_l1(now, last[2])
            if math.isfinite(change):
                self.changes[(kind, self.run, branch, chunk, segment, step)] = change
        else:
            segment = 0 if last is None else last[0] + 1
        self._last[key] = (segment, step, now)

    def next_run(self) -> None:
        self._last.clear()
        self.run += 1

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(signal change, output change)`` of every step where both were recorded."""
        keys = [key[1:] for key in self.changes if key[0] == "signal" and ("output", *key[1:]) in self.changes]
        return (np.array([self.changes[("signal", *key)] for key in keys]),
                np.array([self.changes[("output", *key)] for key in keys]))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (ties broken by position: the signals are continuous)."""
    rank_x, rank_y = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rank_x, rank_y)[0, 1])


def fit(x: np.ndarray, y: np.ndarray, degree: int) -> dict[str, Any]:
    """The least-squares polynomial of ``y`` in ``x`` and how much of ``y``'s variance it explains."""
    coefficients = np.polyfit(x, y, degree)
    residual = float(np.sum((y - np.polyval(coefficients, x)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    return {"pairs": int(len(x)), "r2": 1 - residual / total if total > 0 else None, "spearman": spearman(x, y),
            "signal_range": [float(x.min()), float(x.max())], "output_change_mean": float(y.mean()),
            "rescale": [float(c) for c in coefficients]}


def record_metric(pipe: Any, metric: str, prompts: list[str], frames: int) -> ChangeRecorder:
    """Signal and output changes of ``metric`` over ``prompts`` (prompt i seeded i), nothing reused."""
    import mmcache
    from mmcache.pipelines.generation import GenerationRequest, call_arguments
    from mmcache.pipelines.loader import generation_defaults

    recorder = ChangeRecorder()
    for seed, prompt in enumerate(prompts):
        request = GenerationRequest(prompt=prompt, seed=seed, num_frames=frames)
        request = request.with_defaults(generation_defaults(pipe.mmcache_model_name))
        with mmcache.enabled(pipe, mmcache.FlowCacheConfig(threshold=0, metric=metric)) as handle:
            handle.controller.policy.observer = recorder
            pipe(**call_arguments(pipe, request), generator=torch.Generator().manual_seed(seed))
        recorder.next_run()
    return recorder


def markdown(rows: dict[str, dict[str, Any]], command: str) -> str:
    lines = [f"Command: `{command}`", "", "| metric | pairs | R² of the fit | Spearman ρ | signal change (range) | "
             "rescale (highest power first) |", "|---|---|---|---|---|---|"]
    for metric, row in rows.items():
        r2 = "—" if row["r2"] is None else f"{row['r2']:.3f}"
        low, high = row["signal_range"]
        coefficients = ", ".join(f"{c:.4g}" for c in row["rescale"])
        lines.append(f"| {metric} | {row['pairs']} | {r2} | {row['spearman']:.3f} | {low:.3g}–{high:.3g} | "
                     f"[{coefficients}] |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmcache.eval.flowcache_metrics",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="toy-ar", help="a diffusion-forcing pipeline (bundled name or folder)")
    parser.add_argument("--prompts", type=int, default=4, help="training captions of the toy grammar")
    parser.add_argument("--frames", type=int, default=41, help="video length")
    parser.add_argument("--metrics", nargs="+", choices=METRICS, default=list(METRICS))
    parser.add_argument("--degree", type=int, default=4, help="degree of the fitted polynomial (TeaCache: 4)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    args = build_parser().parse_args(argv)
    if min(args.prompts, args.frames, args.threads) < 1 or args.degree < 1:
        raise SystemExit("--prompts, --frames, --threads and --degree must be at least 1.")
    from mmcache.eval.pareto_step_methods import calibration_prompts
    from mmcache.pipelines import load

    torch.set_num_threads(args.threads)
    pipe = load(args.model, device="cpu")
    if getattr(pipe.transformer.config, "num_frame_per_block", None) is None:
        raise SystemExit(f"{args.model} is not a diffusion-forcing pipeline; pass toy-ar, toy-df or a "
                         "SkyReels-V2 DF folder.")
    pipe.set_progress_bar_config(disable=True)
    prompts = calibration_prompts(args.prompts)
    rows = {}
    for metric in args.metrics:
        x, y = record_metric(pipe, metric, prompts, args.frames).pairs()
        if len(x) <= args.degree:
            raise SystemExit(f"{metric}: only {len(x)} steps recorded, too few for a degree-{args.degree} fit; "
                             "use more --prompts or --frames.")
        rows[metric] = fit(x, y, args.degree)
    command = invocation("flowcache_metrics", argv)
    write_outputs(args.out, "metrics.json", {"command": command, "prompts": prompts, "metrics": rows}, "metrics.md",
                  markdown(rows, command))
    return rows


if __name__ == "__main__":
    main()
