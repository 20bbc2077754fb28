"""FlowCache on a diffusion-forcing model: the three sources of saving, side by side, against whole-window step methods.

For every prompt and video length, one run of the plain pipeline and one per method, all in one
process: causal restructuring alone (``threshold 0``), plus chunkwise reuse, plus KV compression,
and EasyCache deciding for the whole window (the paper's TeaCache-style baseline) over a range of
thresholds, so that FlowCache is compared at equal compute; and restructuring composed with those
whole-window decisions (``window_threshold``). Per run: compute saved (the
denoiser's linear-layer MACs not spent, counted the same way for every method; and the latent
positions not run through the blocks, from ``CacheStats``), wall-clock speedup (the median over
prompts, with the plain run measured in the same loop), PSNR/SSIM against the plain output, the
detector's adherence in every 17-frame window (colour and direction), and the peak KV bytes. A
second table runs one prompt at growing lengths under a KV budget. Results resume: each run is
stored as it finishes (``OUT/runs/*.json``, with what it was made with), and a rerun only does what is missing
or was made with another model, config or behaviour version. ``--captions train`` runs training captions
instead of held-out ones, for choosing a model's preset without looking at the measurement's prompts.

    python -m mmcache.eval.bench_flowcache --model toy-ar --prompts 10 --frames 41 81 --out runs/flowcache
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcache.files import atomic_write_json

from .bench_outputs import invocation, write_outputs
from .stored_runs import method_identity


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def method_grid(reuse: list[float], rate: list[float], budget: int | None, kv_threshold: float,
                easycache: list[float], warmup: int, compose: list[float] = (), fitted: list[float] = (),
                rescale: tuple[float, ...] | None = None, fresh_reuse: list[float] = (),
                fresh_rate: list[float] = (), compose_text: list[float] = ()) -> dict[str, Any]:
    """Label → method config (``None``: the plain pipeline); no KV rows without a budget (bidirectional models).

    FlowCache runs with the paper's metric (``reuse``: the chunk's timestep modulation) and with
    EasyCache's rate estimate per chunk (``rate``); the rows at ``kv_threshold`` get a KV-budget twin;
    ``fitted``: the paper's metric through a ``rescale`` polynomial fitted to the model (``flowcache_metrics``);
    ``fresh_reuse`` / ``fresh_rate``: the same metrics with ``fresh_kv`` (no computed chunk reads stale K/V).
    Every FlowCache row projects the prompt in every forward, as the plain pipeline does (``text_kv=False``),
    except the *text kv* rows: restructuring alone and composed with ``compose_text``, with the prompt's
    projections kept, so that each source of saving shows on its own.
    """
    import mmcache

    def flowcache(**settings: Any) -> Any:
        return mmcache.FlowCacheConfig(**{"warmup_steps": warmup, "text_kv": False, **settings})

    restructure_warmup = mmcache.FlowCacheConfig.warmup_steps  # no reuse: the warm-up plays no part
    grid: dict[str, Any] = {"plain": None}
    if budget is not None:
        grid["flowcache restructure"] = flowcache(threshold=0, warmup_steps=restructure_warmup)
    for metric, thresholds in (("modulation", reuse), ("rate", rate)):
        for tau in thresholds:
            label = f"flowcache {metric} {tau:g}"
            grid[label] = flowcache(threshold=tau, metric=metric)
            if budget is not None and tau == kv_threshold:
                grid[f"{label} + kv {budget}"] = flowcache(threshold=tau, metric=metric, kv_budget=budget)
    for metric, thresholds in (("modulation", fresh_reuse), ("rate", fresh_rate)) if budget is not None else ():
        for tau in thresholds:
            grid[f"flowcache {metric} {tau:g}, fresh kv"] = flowcache(threshold=tau, metric=metric, fresh_kv=True)
    for tau in fitted if rescale is not None else ():
        grid[f"flowcache modulation {tau:g}, fitted rescale"] = flowcache(threshold=tau, metric="modulation",
                                                                          rescale=rescale)
    for tau in easycache:
        grid[f"easycache {tau:g} (whole window)"] = mmcache.EasyCacheConfig(threshold=tau, warmup_steps=warmup)
    if budget is not None:
        for tau in compose:
            grid[f"flowcache restructure + easycache {tau:g}"] = flowcache(threshold=0, window_threshold=tau)
        if compose_text:
            grid["flowcache restructure + text kv"] = flowcache(threshold=0, warmup_steps=restructure_warmup,
                                                                text_kv=True)
        for tau in compose_text:
            grid[f"flowcache restructure + text kv + easycache {tau:g}"] = flowcache(
                threshold=0, window_threshold=tau, text_kv=True)
    return grid


def fitted_rescale(path: Path) -> tuple[float, ...]:
    """The modulation metric's ``rescale`` polynomial from a ``flowcache_metrics`` result file."""
    try:
        return tuple(float(c) for c in json.loads(path.read_text())["metrics"]["modulation"]["rescale"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"--rescale-fit {path}: not a metrics.json with a modulation fit ({error}); make one with "
                         "`python -m mmcache.eval.flowcache_metrics --metrics modulation --out DIR`.") from None


def window_adherence(frames: np.ndarray, prompt: str) -> dict[str, bool]:
    """Colour and direction right in every 17-frame window (stride 8) of the video."""
    from mmcache.pipelines.toy.detector import score_segments

    segments = score_segments(frames, prompt, length=17, stride=8)
    return {"colour": all(s.colour_ok for s in segments), "direction": all(s.direction_ok for s in segments)}


def run_one(pipe: Any, prompt: str, seed: int, frames: int, config: Any, **extra: Any) -> dict[str, Any]:
    from mmcache.pipelines.generation import GenerationRequest, run_generation
    from mmcache.pipelines.loader import generation_defaults

    request = GenerationRequest(prompt=prompt, seed=seed, num_frames=frames, extra=extra)
    request = request.with_defaults(generation_defaults(pipe.mmcache_model_name))
    result = run_generation(pipe, request, [config] if config is not None else [], measure_compute=True)
    stats = result.stats
    return {"frames": result.frames, "wall": result.wall_seconds, "macs": result.denoiser_macs,
            "compute_saved_positions": stats.compute_saved, "peak_kv_bytes": stats.peak_kv_bytes or 0,
            "text_kv_bytes": stats.text_kv_bytes or 0,
            "chunk_counts": stats.chunk_counts, **window_adherence(result.frames, prompt)}


def score(run: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    from mmcache.quality import psnr, ssim

    same = run is plain
    return {key: value for key, value in run.items() if key != "frames"} | {
        "compute_saved": 1.0 - run["macs"] / plain["macs"],
        "speedup": plain["wall"] / run["wall"],
        "psnr": None if same else float(psnr(run["frames"], plain["frames"])),
        "ssim": None if same else float(ssim(run["frames"], plain["frames"])),
    }


def run_file(store: Path, frames: int, prompt: str, seed: int, label: str) -> Path:
    """Where one (length, prompt, seed, method) run is kept, so that a rerun with other --prompts reuses it."""
    return store / f"{frames}-{prompt.replace(' ', '_')}-s{seed}-{label.replace(' ', '_')}.json"


def run_identity(model: str, frames: int, prompt: str, seed: int, config: Any) -> dict[str, Any]:
    """What a stored run was made with: a run whose identity differs (another model, config or behaviour) is made
    again."""
    return {"model": model, "frames": frames, "prompt": prompt, "seed": seed, **method_identity(config)}


def stored_run(file: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The run kept in ``file`` if it was made with ``identity``, else ``None``."""
    if not file.is_file():
        return None
    row = json.loads(file.read_text())
    return row if row.get("identity") == identity else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    finite = [r["psnr"] for r in rows if r["psnr"] is not None]
    return {
        "items": len(rows),
        "compute_saved": statistics.mean(r["compute_saved"] for r in rows),
        "compute_saved_positions": statistics.mean(r["compute_saved_positions"] or 0.0 for r in rows),
        "speedup_median": statistics.median(r["speedup"] for r in rows),
        "psnr": statistics.mean(finite) if finite else None,
        "ssim": statistics.mean(r["ssim"] for r in rows) if finite else None,
        "colour": sum(r["colour"] for r in rows) / len(rows),
        "direction": sum(r["direction"] for r in rows) / len(rows),
        "peak_kv_bytes": max(r["peak_kv_bytes"] for r in rows),
        "text_kv_bytes": max(r.get("text_kv_bytes", 0) for r in rows),
    }


def addnoise_check(pipe: Any, prompts: list[str], frames: int, noise: int) -> dict[str, Any]:
    """PSNR of the restructured run against the plain one when the plain pipeline re-noises the prefix."""
    import mmcache
    from mmcache.quality import psnr

    values = []
    for index, prompt in enumerate(prompts):
        torch.manual_seed(index)  # diffusers draws the prefix's re-noising from torch's global generator
        plain = run_one(pipe, prompt, index, frames, None, addnoise_condition=noise)
        torch.manual_seed(index)
        cached = run_one(pipe, prompt, index, frames, mmcache.FlowCacheConfig(threshold=0), addnoise_condition=noise)
        values.append(float(psnr(cached["frames"], plain["frames"])))
    return {"addnoise_condition": noise, "frames": frames, "psnr": values, "mean_psnr": statistics.mean(values)}


def markdown(summary: dict[str, dict[str, dict[str, Any]]], lengths: dict[str, Any], command: str,
             addnoise: dict[str, Any] | None = None) -> str:
    lines = [f"Command: `{command}`", ""]
    for frames, methods in summary.items():
        lines += [f"**{frames} frames**", "",
                  "| method | compute saved (MACs) | positions not run | speedup (wall, median) | PSNR (dB) | SSIM | "
                  "colour / direction in every window | peak KV (+ prompt K/V kept) | items |", "|---|---|---|---|---|---|---|---|---|"]
        for label, row in methods.items():
            psnr = "—" if row["psnr"] is None else f"{row['psnr']:.2f}"
            ssim = "—" if row["ssim"] is None else f"{row['ssim']:.4f}"
            kv = f"{row['peak_kv_bytes'] / 2**10:.0f} KiB" + (
                f" + {row['text_kv_bytes'] / 2**10:.0f} KiB" if row.get("text_kv_bytes") else "")
            lines.append(f"| {label} | {row['compute_saved']:.1%} | {row['compute_saved_positions']:.1%} | "
                         f"{row['speedup_median']:.2f}× | {psnr} | {ssim} | {row['colour']:.0%} / {row['direction']:.0%} "
                         f"| {kv} | {row['items']} |")
        lines.append("")
    if lengths:
        lines += ["**Peak KV bytes by video length (one prompt)**", "", "| frames | " + " | ".join(lengths["methods"])
                  + " |", "|---|" + "---|" * len(lengths["methods"])]
        for frames, values in lengths["peaks"].items():
            lines.append(f"| {frames} | " + " | ".join(f"{v / 2**10:.0f} KiB" for v in values) + " |")
    if addnoise:
        lines += ["", f"**Prefix re-noised by the plain pipeline** (`addnoise_condition` {addnoise['addnoise_condition']}, "
                  f"{addnoise['frames']} frames): restructuring alone keeps the prefix's first encoding, "
                  f"{addnoise['mean_psnr']:.2f} dB against the plain output (per prompt "
                  + ", ".join(f"{v:.2f}" for v in addnoise["psnr"]) + ")."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmcache.eval.bench_flowcache", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="toy-ar", help="a diffusion-forcing pipeline (bundled name or folder)")
    parser.add_argument("--prompts", type=int, default=10,
                        help="captions of the toy grammar: held-out ones (or training ones with --captions train)")
    parser.add_argument("--captions", choices=("held-out", "train"), default="held-out",
                        help="held-out captions (the measurement) or training captions spread evenly (for choosing a "
                             "model's preset without looking at held-out ones)")
    parser.add_argument("--frames", type=int, nargs="+", default=[41, 81], help="video lengths")
    parser.add_argument("--long-prompts", type=int, default=None,
                        help="prompts for every length after the first (default: --prompts)")
    parser.add_argument("--reuse", type=_floats, default=[0.05, 0.1],
                        help="FlowCache thresholds with the paper's metric (timestep modulation)")
    parser.add_argument("--rate", type=_floats, default=[0.03, 0.05],
                        help="FlowCache thresholds with EasyCache's rate estimate per chunk")
    parser.add_argument("--fresh-reuse", type=_floats, default=[0.1, 0.2],
                        help="FlowCache thresholds with the paper's metric and fresh_kv (block-causal models)")
    parser.add_argument("--fresh-rate", type=_floats, default=[],
                        help="FlowCache thresholds with the rate estimate and fresh_kv (block-causal models)")
    parser.add_argument("--kv-threshold", type=float, default=0.05, help="the FlowCache rows that get a KV-budget twin")
    parser.add_argument("--kv-budget", type=int, default=128, help="tokens per head and layer (one chunk of toy-ar)")
    parser.add_argument("--rescale-fit", type=Path, default=None,
                        help="metrics.json of `python -m mmcache.eval.flowcache_metrics`: its modulation fit is the "
                             "rescale polynomial of the --fitted rows")
    parser.add_argument("--fitted", type=_floats, default=[0.03, 0.06],
                        help="FlowCache thresholds with the paper's metric through the fitted rescale (with --rescale-fit)")
    parser.add_argument("--easycache", type=_floats, default=[0.02, 0.05, 0.1],
                        help="EasyCache thresholds (whole-window decisions)")
    parser.add_argument("--compose", type=_floats, default=[0.02, 0.05, 0.08, 0.1],
                        help="EasyCache thresholds of whole-window decisions composed with restructuring "
                             "(block-causal models)")
    parser.add_argument("--compose-text", type=_floats, default=[0.03, 0.04],
                        help="the same compositions with the prompt's projections kept (text_kv), plus restructuring "
                             "with them alone (empty: no text kv rows)")
    parser.add_argument("--warmup-steps", type=int, default=5, help="warm-up of every method (per chunk for FlowCache)")
    parser.add_argument("--kv-lengths", type=int, nargs="*", default=[41, 81, 161],
                        help="lengths of the peak-KV table (one prompt; empty: skip)")
    parser.add_argument("--addnoise", type=int, default=20,
                        help="addnoise_condition of the prefix-noise check (2 prompts, first length; 0: skip)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quiet", action="store_true", help="no per-run progress lines")
    args = parser.parse_args(argv)
    if args.long_prompts is None:
        args.long_prompts = args.prompts
    if min(args.prompts, args.long_prompts, args.kv_budget, *args.frames) < 1:
        parser.error("--prompts, --long-prompts, --frames and --kv-budget must be positive")

    import mmcache
    from mmcache.eval.pareto_step_methods import calibration_prompts, held_out_prompts
    from mmcache.pipelines import load

    pick = held_out_prompts if args.captions == "held-out" else calibration_prompts

    pipe = load(args.model, device="cpu")
    pipe.set_progress_bar_config(disable=True)
    causal = int(pipe.transformer.config.num_frame_per_block) > 1
    rescale = fitted_rescale(args.rescale_fit) if args.rescale_fit is not None else None
    grid = method_grid(args.reuse, args.rate, args.kv_budget if causal else None, args.kv_threshold, args.easycache,
                       args.warmup_steps, args.compose, args.fitted, rescale, args.fresh_reuse, args.fresh_rate,
                       args.compose_text)
    prompts = pick(args.prompts)
    store = args.out / "runs"
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for position, frames in enumerate(args.frames):
        rows: dict[str, list[dict[str, Any]]] = {label: [] for label in grid}
        count = args.prompts if position == 0 else args.long_prompts
        for index, prompt in enumerate(prompts if position == 0 else pick(count)):
            identities = {label: run_identity(args.model, frames, prompt, index, config)
                          for label, config in grid.items()}
            files = {label: run_file(store, frames, prompt, index, label) for label in grid}
            stored = {label: stored_run(files[label], identities[label]) for label in grid}
            plain = None if all(stored.values()) else run_one(pipe, prompt, index, frames, None)
            for label, config in grid.items():
                file = files[label]
                if stored[label] is not None:
                    rows[label].append(stored[label])
                    continue
                run = plain if config is None else run_one(pipe, prompt, index, frames, config)
                row = score(run, plain) | {"prompt": prompt, "identity": identities[label]}
                atomic_write_json(file, row)
                rows[label].append(row)
                if not args.quiet:
                    print(f"{frames} frames, prompt {index + 1}/{count}, {label}: saved {row['compute_saved']:.1%}, "
                          f"{row['speedup']:.2f}×, PSNR {row['psnr']}", file=sys.stderr)
        summary[str(frames)] = {label: summarize(found) for label, found in rows.items()}
    lengths: dict[str, Any] = {}
    if args.kv_lengths and causal:
        methods = {f"flowcache, kv {args.kv_budget}": mmcache.FlowCacheConfig(threshold=0, kv_budget=args.kv_budget),
                   "flowcache, no budget": mmcache.FlowCacheConfig(threshold=0)}
        lengths = {"methods": list(methods), "peaks": {
            str(frames): [run_one(pipe, prompts[0], 0, frames, config)["peak_kv_bytes"] for config in methods.values()]
            for frames in args.kv_lengths}}
    addnoise = addnoise_check(pipe, prompts[:2], args.frames[0], args.addnoise) if args.addnoise and causal else None
    command = invocation("bench_flowcache", argv)
    write_outputs(args.out, "results.json", {"summary": summary, "kv_by_length": lengths, "addnoise": addnoise,
                                             "command": command}, "flowcache.md",
                  markdown(summary, lengths, command, addnoise))
    return 0


if __name__ == "__main__":
    sys.exit(main())
