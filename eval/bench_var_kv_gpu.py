"""Scale-KV methods on a VAR-d16-sized random model: sampling time, peak memory and KV savings, side by side.

A class-conditioned ``VARTransformer`` of VAR-d16's size (depth 16, width 1024, 16 heads, scales 1 … 16 for
256×256 images, a 4096-code vocabulary over 32 channels; random weights, bf16) samples a batch of 16 class
labels with classifier-free guidance (both branches in one batch of 32; VAR's sampling: guidance 4 ramped
up over the scales, top-k 900, top-p 0.95), scale by scale through
``VARPipeline.sample_indices``: the tokens only, so the tokenizer is a small random one whose decoder
never runs. Sides: the pipeline's own KV cache; mmcache enabled with no method (its per-block cache
keeping everything, to show what the cache itself costs); HACK and ScaleTopK at ``--budget``. HACK's head
classes come from ``calibrate_hack`` on one class label and one seed (random weights: the split, not its
meaning, is what matters for time and memory). Per side: median time per image over ``--repeats``
interleaved rounds after a warm-up round, peak CUDA memory of the call (``max_memory_allocated``, reset
before it) and, for the methods, ``ScaleKVStats`` and their ratios to the plain cache's counts.

    python -m mmcache.eval.bench_var_kv_gpu --out bench_var_kv_gpu.json
    python -m mmcache.eval.bench_var_kv_gpu --smoke      # tiny model on the CPU: tests the script only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import torch

from .bench_timing import args_record, lacks_gpu, print_table, write_partial, write_result

VAR_D16 = {"depth": 16, "embed_dim": 1024, "num_heads": 16, "patch_nums": (1, 2, 3, 4, 5, 6, 8, 10, 13, 16),
           "vocab_size": 4096, "z_channels": 32, "num_classes": 1000}
SMOKE = {"depth": 2, "embed_dim": 64, "num_heads": 4, "patch_nums": (1, 2, 3, 4), "vocab_size": 64,
         "z_channels": 8, "num_classes": 10}
TOKENIZER_CHANNELS = 8  # the tokenizer's width: only its quantizer runs while sampling tokens


def build(sizes: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    """A random class-conditioned VARPipeline of ``sizes``, built on ``device`` (images of 16× the last scale)."""
    from mmcache.pipelines.var import MultiScaleVQVAE, VARPipeline, VARTransformer

    torch.manual_seed(0)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in ``dtype`` on ``device``: no float32 copy on the host first
    try:
        with torch.device(device):
            tokenizer = MultiScaleVQVAE(channels=(TOKENIZER_CHANNELS,) * 4, num_res_blocks=1,
                                        z_channels=sizes["z_channels"], vocab_size=sizes["vocab_size"],
                                        patch_nums=sizes["patch_nums"])
            transformer = VARTransformer(**sizes)
    finally:
        torch.set_default_dtype(default_dtype)
    pipe = VARPipeline(tokenizer, transformer)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sides(args: argparse.Namespace, calibration: str) -> dict[str, Any]:
    """Side name → what ``mmcache.enable`` gets (``None``: the pipeline alone, ``()``: enabled with no method)."""
    import mmcache

    return {"plain": None, "mmcache, keeps all": (),
            f"hack {args.budget}": (mmcache.HACKConfig(budget=args.budget, calibration=calibration),),
            f"scaletopk {args.budget}": (mmcache.ScaleTopKConfig(budget=args.budget),)}


def sample(pipe: Any, args: argparse.Namespace, configs: tuple | None) -> tuple[float, int | None, Any]:
    """One batch: seconds, peak CUDA bytes and the method's ``ScaleKVStats`` (``None`` for the plain pipeline)."""
    import mmcache

    cuda = args.device.type == "cuda"
    labels = [index % pipe.transformer.num_conditions for index in range(args.batch)]
    generator = torch.Generator(args.device).manual_seed(0)
    call = dict(guidance_scale=args.guidance_scale, top_k=args.top_k, top_p=args.top_p, generator=generator,
                guidance_ramp=True)
    handle = mmcache.enable(pipe, *configs) if configs is not None else None
    try:
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        pipe.sample_indices(labels, **call)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    finally:
        if handle is not None:
            handle.disable()
    peak = torch.cuda.max_memory_allocated() if cuda else None
    return seconds, peak, (handle.history[-1] if handle is not None else None)


def calibrate(pipe: Any, args: argparse.Namespace) -> tuple[str, float, float]:
    """HACK's head classes from one class label and seed; ``(file, seconds, contextual share)``."""
    import os
    import tempfile

    import mmcache

    start = time.perf_counter()
    calibration = mmcache.calibrate(pipe, method="hack", prompts=[0], seeds=[0], contextual_fraction=0.5,
                                    progress=False, guidance_scale=args.guidance_scale, output_type="pt")
    seconds = time.perf_counter() - start
    path = os.path.join(tempfile.mkdtemp(prefix="bench_var_kv_"), "hack.json")
    calibration.save(path)
    heads = calibration.target["num_layers"] * calibration.target["num_heads"]
    return path, seconds, sum(map(len, calibration.contextual_heads)) / heads


def stats_row(stats: Any) -> dict[str, Any]:
    if stats is None:
        return {}
    ratios = stats.ratios()
    return {"kv_bytes_peak": stats.kv_bytes_peak, "kv_bytes_held": stats.kv_bytes_held,
            "attention_flops": stats.attention_flops, "plain_kv_bytes_peak": stats.plain().kv_bytes_peak,
            "kv_peak_ratio": ratios["kv_bytes_peak"], "kv_held_ratio": ratios["kv_bytes_held"],
            "flops_ratio": ratios["attention_flops"]}


def run(args: argparse.Namespace, sizes: dict[str, Any]) -> dict[str, Any]:
    pipe = build(sizes, args.device, getattr(torch, args.dtype))
    calibration, calibration_seconds, contextual_share = calibrate(pipe, args)
    configs = sides(args, calibration)
    timings: dict[str, list[float]] = {name: [] for name in configs}
    peaks: dict[str, int | None] = {}
    stats: dict[str, Any] = {}
    for name, side in configs.items():  # warm-up
        sample(pipe, args, side)
    config = args_record(args)
    result = {"config": config, "model": {key: list(value) if isinstance(value, tuple) else value
                                          for key, value in sizes.items()},
              "device": torch.cuda.get_device_name() if args.device.type == "cuda" else "cpu (smoke)",
              "tokens": pipe.transformer.L, "image_size": pipe.tokenizer.image_size,
              "calibration": {"how": "calibrate_hack on class label 0, seed 0, contextual_fraction 0.5",
                              "seconds": calibration_seconds, "contextual_share": contextual_share}}
    for round_index in range(args.repeats):
        for name, side in configs.items():
            seconds, peaks[name], stats[name] = sample(pipe, args, side)
            timings[name].append(seconds / args.batch)
        result["sides"] = side_rows(timings, peaks, stats)
        if round_index + 1 < args.repeats:
            write_partial(args.out, result)
    return result


def side_rows(timings: dict[str, list[float]], peaks: dict[str, int | None], stats: dict[str, Any]) -> list[dict]:
    """One row per side: median time per image, speedup over the plain cache, peak memory, KV ratios."""
    plain = statistics.median(timings["plain"])
    rows = []
    for name, values in timings.items():
        per_image = statistics.median(values)
        rows.append({"side": name, "seconds_per_image": per_image, "speedup": plain / per_image,
                     "peak_memory_bytes": peaks[name], **stats_row(stats[name])})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16, help="images per call (both CFG branches: twice the rows)")
    parser.add_argument("--budget", type=float, default=0.3, help="HACK's and ScaleTopK's share of the KV cache")
    parser.add_argument("--guidance-scale", type=float, default=4.0)
    parser.add_argument("--top-k", type=int, default=900)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed rounds after one warm-up round")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--out", default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny model on the CPU (tests the script only)")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else VAR_D16
    if args.smoke:
        args.device, args.dtype, args.batch, args.repeats, args.top_k = torch.device("cpu"), "float32", 2, 1, 0
    elif lacks_gpu("bench_var_kv_gpu"):
        return 2
    else:
        args.device = torch.device("cuda")
    result = run(args, sizes)
    print(f"device {result['device']}; {result['tokens']} tokens per image ({result['image_size']}x"
          f"{result['image_size']}), batch {args.batch} with CFG; HACK calibration "
          f"{result['calibration']['seconds']:.1f} s, {result['calibration']['contextual_share']:.0%} contextual")
    print_table("per image", result["sides"], ["side", "seconds_per_image", "speedup", "peak_memory_bytes",
                                               "kv_peak_ratio", "kv_held_ratio", "flops_ratio"])
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
