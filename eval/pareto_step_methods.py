"""Pareto comparison of step-skipping methods on one model: compute saved vs PSNR/SSIM, side by side.

One script runs everything in one evaluation (same prompts, seeds and baseline for all):
ERTACache (calibrated here on separate prompts, one calibration per lambda), EasyCache,
diffusers' FirstBlockCache, MagCache, TaylorSeer and SeaCache, and cache-dit's DBCache (first 1
or 2 blocks computed, each with and without its TaylorSeer calibrator), at several operating
points each. The x axis is the denoiser compute saved (linear-layer MACs, which also counts the
work peers skip inside a denoiser call; for mmcache's methods it equals the share of denoiser
calls reused). Every method with a warm-up setting computes the same first steps as EasyCache
(``--peer-warmup``); the table names the setting of each row (``pareto_points.py``).

    python -m mmcache.eval.pareto_step_methods --model toy-t2v --prompts 20 --out runs/pareto
    python -m mmcache.eval.pareto_step_methods --model toy-t2v --scheduler euler --out runs/pareto-euler

``--scheduler euler`` runs every method on the same weights under a flow-matching Euler sampler
(toy-t2v ships Wan's UniPC), the sampler on which ERTACache's timestep adjustment is defined.

Writes OUT/eval/ (the full `mmcache eval` output: videos, records, results.json, report.md),
OUT/pareto.md (the table) and OUT/pareto.png (PSNR and SSIM against compute saved).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .bench_outputs import invocation
from .pareto_points import OWN_DEFAULT, OperatingPoint, floats, operating_points, peer_warmup

DEFAULT_POINTS = {
    "ertacache": "0.05,0.1,0.2,0.4",
    "easycache": "0.02,0.05,0.1,0.2",
    "fbc": "0.05,0.1,0.2,0.4",
    "magcache": "0.03,0.06,0.12,0.24",
    "taylorseer": "2,3,4,6",
    "seacache": "0.1,0.25,0.5,1.0",
    "cache-dit": "0.05,0.1,0.2,0.4",
}


def held_out_prompts(count: int) -> list[str]:
    """Evaluation prompts: held-out captions of the reference models' grammar, in a fixed order."""
    from mmcache.pipelines.toy.captions import held_out_specs

    specs = held_out_specs()
    if count > len(specs):
        raise ValueError(f"--prompts {count}: the grammar has only {len(specs)} held-out captions.")
    step = len(specs) / count
    return [specs[int(i * step)].text for i in range(count)]


def calibration_prompts(count: int) -> list[str]:
    """Calibration prompts: training captions, disjoint from the evaluation prompts."""
    from mmcache.pipelines.toy.captions import train_specs

    specs = train_specs()
    step = len(specs) / count
    return [specs[int(i * step)].text for i in range(count)]


def calibrate_ertacache(model: str, prompts: list[str], lambdas: list[float], steps: int, out: Path,
                        device: str | None, quiet: bool) -> list[Path]:
    """Record calibration trajectories once and fit one calibration file per lambda."""
    from mmcache.calibration.api import fit_ertacache
    from mmcache.calibration.recording import record_trajectories
    from mmcache.families.registry import resolve_target
    from mmcache.pipelines.generation import GenerationRequest, calibration_arguments
    from mmcache.pipelines.loader import generation_defaults, load

    pipe = load(model, device=device)
    pipe.set_progress_bar_config(disable=True)
    request = GenerationRequest(prompt=prompts[0], num_inference_steps=steps).with_defaults(generation_defaults(model))
    kwargs = {**calibration_arguments(pipe, request), "output_type": "latent"}
    trajectories, recorder = record_trajectories(pipe, prompts, [0], kwargs, progress=not quiet)
    channel_dim = resolve_target(pipe).adapter.channel_dim
    paths = []
    for value in lambdas:
        calibration = fit_ertacache(trajectories, pipe, value, channel_dim, recorder.latent_shapes, kwargs)
        path = out / "calibration" / f"ertacache-lambda{value:g}.json"
        calibration.save(path)
        paths.append(path)
        if not quiet:
            print(f"ertacache lambda {value:g}: {len(calibration.reuse_steps)}/{steps} steps reused")
    return paths


def pareto_rows(results: dict[str, Any], points: list[OperatingPoint]) -> list[dict[str, Any]]:
    """One row per operating point, from ``results.json`` of the evaluation that ran them."""
    by_spec = {point.spec: point for point in points}
    spec_of = {method["label"]: method["spec"] for method in results["run"]["methods"]}
    rows = []
    for label, s in results["summary"].items():
        point = by_spec.get(spec_of.get(label, ""))
        if point is None:
            continue
        rows.append({"method": point.method, "setting": point.setting, "warmup": point.warmup, "label": label,
                     "compute_saved": s.get("compute_saved"),
                     "calls_saved": s.get("calls_saved"), "psnr_db": s.get("psnr_db"), "ssim": s.get("ssim"),
                     "speedup_denoiser": s.get("speedup_denoiser"), "done": s.get("done"), "items": s.get("items"),
                     "errors": s.get("errors")})
    return rows


def write_table(rows: list[dict[str, Any]], path: Path, command: str) -> None:
    from mmcache.files import atomic_write_text

    def cell(value: Any, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    lines = [f"Command: `{command}`", "", "| method | operating point | warm-up | compute saved | calls saved | "
             "PSNR (dB) | SSIM | denoiser speedup (measured) | items |", "|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["method"], r["compute_saved"] or 0)):
        lines.append(
            f"| {row['method']} | `{row['setting']}` | {row['warmup']} | {percent(row['compute_saved'])} | "
            f"{percent(row['calls_saved'])} | "
            f"{cell(row['psnr_db'], '.2f')} | {cell(row['ssim'], '.4f')} | {cell(row['speedup_denoiser'], '.2f')} | "
            f"{row['done']}/{row['items']} |")
    atomic_write_text(path, "\n".join(lines) + "\n")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmcache.files import atomic_write_bytes

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for method in dict.fromkeys(row["method"] for row in rows):
        points = sorted((r for r in rows if r["method"] == method and r["compute_saved"] is not None
                         and r["psnr_db"] is not None), key=lambda r: r["compute_saved"])
        if not points:
            continue
        x = [100 * p["compute_saved"] for p in points]
        axes[0].plot(x, [p["psnr_db"] for p in points], marker="o", label=method)
        axes[1].plot(x, [p["ssim"] for p in points], marker="o", label=method)
    for axis, name in zip(axes, ("PSNR vs uncached (dB)", "SSIM vs uncached")):
        axis.set_xlabel("denoiser compute saved (%)")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy-t2v")
    parser.add_argument("--prompts", type=int, default=20, help="number of held-out evaluation prompts")
    parser.add_argument("--calibration-prompts", type=int, default=4)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--out", default="runs/pareto")
    parser.add_argument("--device", default=None)
    parser.add_argument("--ertacache", default=DEFAULT_POINTS["ertacache"], help="lambdas")
    parser.add_argument("--easycache", default=DEFAULT_POINTS["easycache"], help="thresholds")
    parser.add_argument("--easycache-warmup", type=int, default=5, help="EasyCache warmup steps")
    parser.add_argument("--fbc", default=DEFAULT_POINTS["fbc"], help="FirstBlockCache thresholds")
    parser.add_argument("--magcache", default=DEFAULT_POINTS["magcache"], help="MagCache thresholds")
    parser.add_argument("--taylorseer", default=DEFAULT_POINTS["taylorseer"], help="TaylorSeer cache intervals")
    parser.add_argument("--seacache", default=DEFAULT_POINTS["seacache"], help="SeaCache thresholds")
    parser.add_argument("--cache-dit", default=DEFAULT_POINTS["cache-dit"],
                        help="cache-dit DBCache residual thresholds")
    parser.add_argument("--cache-dit-blocks", default="1,2",
                        help="cache-dit first blocks computed (Fn), one curve each")
    parser.add_argument("--cache-dit-calibrators", default="none,taylorseer",
                        help="cache-dit calibrators, one curve each ('none': plain DBCache)")
    parser.add_argument("--peer-warmup", default=None,
                        help="first steps computed by every peer with a warm-up setting (default: --easycache-warmup); "
                             f"'{OWN_DEFAULT}' keeps each peer's own default")
    parser.add_argument("--scheduler", choices=("model", "euler"), default="model",
                        help="sampler for every method: the model's own, or flow-matching Euler (where ERTACache's "
                             "timestep adjustment applies); euler needs a saved model (bundled name or folder)")
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        peer_warmup(args)
    except ValueError as error:
        parser.error(str(error))

    import json

    from mmcache.eval.evaluation import EvalOptions, run_evaluation
    from mmcache.files import atomic_write_text
    from mmcache.pipelines.loader import generation_defaults

    out = Path(args.out)
    if args.scheduler == "euler":
        from mmcache.pipelines.euler_variant import euler_variant

        args.model = str(euler_variant(args.model, out / "model-euler"))
    steps = args.steps or int(generation_defaults(args.model).get("num_inference_steps") or 50)
    prompts = held_out_prompts(args.prompts)
    atomic_write_text(out / "prompts.txt", "\n".join(prompts) + "\n")
    lambdas = floats(args.ertacache)
    calibrations = calibrate_ertacache(args.model, calibration_prompts(args.calibration_prompts), lambdas, steps, out,
                                       args.device, args.quiet) if lambdas else []
    points = operating_points(args, calibrations, steps)
    options = EvalOptions(
        out=str(out / "eval"), model=args.model, method_texts=[",".join(point.spec for point in points)],
        prompts=str(out / "prompts.txt"), seeds=tuple(int(s) for s in args.seeds.split(",")), steps=steps,
        device=args.device, vbench=False, measure_compute=True, quiet=args.quiet,
    )
    code = run_evaluation(options)
    results = json.loads((out / "eval" / "results.json").read_text())
    rows = pareto_rows(results, points)
    command = invocation("pareto_step_methods", argv)
    write_table(rows, out / "pareto.md", command)
    plot(rows, out / "pareto.png")
    print((out / "pareto.md").read_text())
    print(f"wrote {out / 'pareto.md'} and {out / 'pareto.png'}")
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
