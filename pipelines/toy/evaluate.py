"""Measure a toy model: prompt adherence, VAE PSNR, speed, long-video coherence, per-step output change.

    python -m mmcache.pipelines.toy.evaluate --model toy-t2v --out runs/toy/eval-t2v
    python -m mmcache.pipelines.toy.evaluate --model toy-df --prompts 45 --long-frames 41 \
        --skip adherence psnr timing curve --out runs/toy/eval-df
    python -m mmcache.pipelines.toy.evaluate --model toy-ar --prompts 45 --long-frames 45 85 \
        --skip adherence psnr timing curve --out runs/toy/eval-ar

Writes ``report.json`` and ``output_change.png`` (relative change of the transformer output between
consecutive steps of a 50-step trajectory, per CFG branch) into ``--out`` and prints the report.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcache.files import atomic_write_json

from ..loader import pipeline_folder_or_usage_error, read_defaults
from ..call_defaults import flat_call_settings, with_call_defaults
from .captions import held_out_specs
from .configs import NUM_FRAMES, SIZE
from .data import EVAL_SEED, make_dataset
from .sampling import adherence, generate_frames, long_video_coherence
from .vae_utils import reconstruction_psnr


def output_change_curve(pipe: Any, prompt: str, steps: int, seed: int, call: dict[str, Any]) -> dict[str, list[float]]:
    """Relative L2 change ``|o_i - o_{i-1}| / |o_{i-1}|`` of the transformer output per step, per CFG branch."""
    outputs: list[torch.Tensor] = []
    handle = pipe.transformer.register_forward_hook(lambda _m, _i, out: outputs.append(out[0].detach().float().clone()))
    try:
        generate_frames(pipe, prompt, seed, **{**call, "num_inference_steps": steps})
    finally:
        handle.remove()
    branches = 2 if call.get("guidance_scale", 1.0) > 1.0 else 1
    curves: dict[str, list[float]] = {}
    for branch, name in zip(range(branches), ("cond", "uncond")):
        series = outputs[branch::branches]
        curves[name] = [float((b - a).norm() / a.norm().clamp_min(1e-12)) for a, b in zip(series, series[1:])]
    return curves


def plot_curves(curves: dict[str, list[float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        axis.plot(range(1, len(values) + 1), values, marker=".", label=name)
    axis.set_xlabel("denoising step")
    axis.set_ylabel("relative output change")
    axis.set_title(title)
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


def main() -> None:
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from diffusers import DiffusionPipeline

    folder = pipeline_folder_or_usage_error(parser, args.model)
    defaults = read_defaults(folder)
    call = flat_call_settings(defaults)
    is_df = "extra" in defaults
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
        clips = make_dataset(EVAL_SEED, args.psnr_clips, "held_out", NUM_FRAMES, SIZE)[0]
        scores = reconstruction_psnr(pipe.vae, clips)
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
    if is_df and "long" not in args.skip:
        report["long_video"] = {}
        for frames in args.long_frames or [call["num_frames"]]:
            result = long_video_coherence(pipe, specs, seed=args.seed, **{**call, "num_frames": frames})
            report["long_video"][str(frames)] = result
            print("long video", frames, {k: v for k, v in result.items() if k != "videos"}, flush=True)
    print(f"report: {atomic_write_json(args.out / 'report.json', report)}")  # a reader never sees half a report


if __name__ == "__main__":
    main()
