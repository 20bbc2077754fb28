"""Measure a toy model: prompt adherence, VAE PSNR, speed, long-video coherence, per-step output change.

    python -m mmcache.pipelines.toy.evaluate --model toy-ar --long-frames 45 85 --skip psnr timing curve

Writes ``report.json`` and ``output_change.png`` (relative change of the transformer output between
consecutive steps of a 50-step trajectory, per CFG branch) into ``--out`` and prints the report.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from diffusers import DiffusionPipeline

from mmcache.files import atomic_write_json

from ..call_defaults import flat_call_settings, with_call_defaults
from ..loader import pipeline_folder_or_usage_error, read_defaults
from .captions import CaptionSpec, held_out_specs
from .configs import NUM_FRAMES
from .data import EVAL_SEED, make_dataset
from .detector import keeps_first_segment, score_segments, score_video
from .train_vae import reconstruction_psnr


def generate_frames(pipe: Any, prompt: str, seed: int, **call: Any) -> np.ndarray:
    """One video as uint8 ``[T, H, W, 3]`` (CPU generator seeded with ``seed``)."""
    pipe.set_progress_bar_config(disable=True)
    output = pipe(prompt=prompt, generator=torch.Generator().manual_seed(int(seed)), output_type="np", **call)
    return (np.clip(np.asarray(output.frames[0]), 0.0, 1.0) * 255.0).round().astype(np.uint8)


def adherence(pipe: Any, specs: Sequence[CaptionSpec], seed: int = 0, **call: Any) -> dict[str, float]:
    """Fractions of videos with the right colour, direction and shape (shape over judged videos)."""
    scores = [score_video(generate_frames(pipe, spec.text, seed + i, **call), spec) for i, spec in enumerate(specs)]
    judged = [s.shape_ok for s in scores if s.shape_ok is not None]
    n = max(1, len(specs))
    return {"colour": sum(s.colour_ok for s in scores) / n, "direction": sum(s.direction_ok for s in scores) / n,
            "colour_and_direction": sum(s.colour_ok and s.direction_ok for s in scores) / n,
            "shape": sum(judged) / max(1, len(judged)), "n": len(specs)}


def long_video_coherence(pipe: Any, specs: Sequence[CaptionSpec], seed: int = 0, window: int = 17,
                         **call: Any) -> dict[str, Any]:
    """Fractions of long videos whose every ``window``-frame segment keeps the caption's colour and direction
    (``coherent``) or the first segment's (``self_consistent``); per video, what each window showed ("red left")."""
    totals = dict.fromkeys(("coherent", "colour_all_segments", "direction_all_segments", "self_consistent"), 0)
    videos, by_background = [], {}
    for index, spec in enumerate(specs):
        frames = generate_frames(pipe, spec.text, seed + index, **call)
        segments = score_segments(frames, spec, length=window, stride=window // 2)
        kept = all(s.colour_ok and s.direction_ok for s in segments)
        totals["coherent"] += kept
        totals["colour_all_segments"] += all(s.colour_ok for s in segments)
        totals["direction_all_segments"] += all(s.direction_ok for s in segments)
        totals["self_consistent"] += keeps_first_segment(segments)
        counts = by_background.setdefault(spec.background, [0, 0])  # [coherent videos, videos]
        counts[0], counts[1] = counts[0] + kept, counts[1] + 1
        videos.append({"caption": spec.text, "coherent": kept,
                       "windows": [f"{s.details['dominant_colour']} {s.details['direction']}" for s in segments]})
    n = max(1, len(specs))
    return {**{key: value / n for key, value in totals.items()}, "n": len(specs),
            "coherent_by_background": by_background, "videos": videos}


def output_change_curve(pipe: Any, prompt: str, steps: int, seed: int, call: dict[str, Any]) -> dict[str, list[float]]:
    """Relative L2 change ``|o_i - o_{i-1}| / |o_{i-1}|`` of the transformer output per step, per CFG branch."""
    outputs: list[torch.Tensor] = []
    handle = pipe.transformer.register_forward_hook(lambda _m, _i, out: outputs.append(out[0].detach().float().clone()))
    try:
        generate_frames(pipe, prompt, seed, **{**call, "num_inference_steps": steps})
    finally:
        handle.remove()
    branches = 2 if call.get("guidance_scale", 1.0) > 1.0 else 1
    series = {name: outputs[branch::branches] for branch, name in zip(range(branches), ("cond", "uncond"))}
    return {name: [float((b - a).norm() / a.norm().clamp_min(1e-12)) for a, b in zip(values, values[1:])]
            for name, values in series.items()}


def plot_curves(curves: dict[str, list[float]], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        axis.plot(range(1, len(values) + 1), values, marker=".", label=name)
    axis.set(xlabel="denoising step", ylabel="relative output change", title=title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def time_default_video(pipe: Any, call: dict[str, Any], repeats: int = 3) -> dict[str, float]:
    prompt = held_out_specs()[0].text
    generate_frames(pipe, prompt, 0, **call)  # warm-up
    seconds = []
    for index in range(repeats):
        start = time.perf_counter()
        generate_frames(pipe, prompt, index, **call)
        seconds.append(time.perf_counter() - start)
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy-t2v", help="toy-t2v, toy-df, toy-ar or a pipeline folder")
    parser.add_argument("--out", type=Path, default=Path("runs/toy/eval"))
    parser.add_argument("--prompts", type=int, default=45, help="held-out prompts (at most 45)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--psnr-clips", type=int, default=32)
    parser.add_argument("--long-frames", type=int, nargs="*", default=None,
                        help="video lengths for the long-video coherence check (diffusion-forcing models)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["adherence", "psnr", "timing", "curve", "long"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    folder = pipeline_folder_or_usage_error(parser, args.model)
    defaults = read_defaults(folder)
    call = flat_call_settings(defaults)
    # Training-length videos (a diffusion-forcing model's window), with its sampler settings (``ar_step``, ...).
    short_call = {**call, "num_frames": call.get("base_num_frames", NUM_FRAMES)}
    # a block-causal model makes a length that is not whole blocks (41 frames) by rounding up and cropping
    pipe = with_call_defaults(DiffusionPipeline.from_pretrained(str(folder)), defaults)
    pipe.set_progress_bar_config(disable=True)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"model": str(folder), "defaults": defaults, "seed": args.seed, "call": call}
    specs = held_out_specs()[: args.prompts]
    if "adherence" not in args.skip:
        report["held_out_adherence"] = adherence(pipe, specs, seed=args.seed, **short_call)
        print("adherence", report["held_out_adherence"], flush=True)
    if "psnr" not in args.skip:
        scores = reconstruction_psnr(pipe.vae, make_dataset(EVAL_SEED, args.psnr_clips, "held_out", NUM_FRAMES)[0])
        report["vae_psnr_db"] = {"mean": float(np.mean(scores)), "min": float(np.min(scores)), "clips": len(scores)}
        print("psnr", report["vae_psnr_db"], flush=True)
    if "timing" not in args.skip:
        report["default_video_timing"] = time_default_video(pipe, call)
        print("timing", report["default_video_timing"], flush=True)
    if "curve" not in args.skip:
        curves = output_change_curve(pipe, specs[0].text, 50, args.seed, short_call)
        report["output_change_50_steps"] = curves
        plot_curves(curves, args.out / "output_change.png", f"{folder.name}: per-step output change (50 steps)")
        print("curve cond", np.round(curves["cond"], 3).tolist(), flush=True)
    if "extra" in defaults and "long" not in args.skip:  # a diffusion-forcing model
        report["long_video"] = {}
        for frames in args.long_frames or [call["num_frames"]]:
            result = long_video_coherence(pipe, specs, seed=args.seed, **{**call, "num_frames": frames})
            report["long_video"][str(frames)] = result
            print("long video", frames, {k: v for k, v in result.items() if k != "videos"}, flush=True)
    print(f"report: {atomic_write_json(args.out / 'report.json', report)}")  # a reader never sees half a report


if __name__ == "__main__":
    main()
