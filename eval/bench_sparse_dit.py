"""End-to-end step time of a Wan2.1-1.3B-sized transformer with block-sparse attention vs dense.

Same random-weight model and Euler loop as ``bench_core`` (480x832, 81 frames, bf16); each
scenario enables ``SparseAttentionConfig(density=d)`` (or nothing, for dense) and times the
denoiser forwards with CUDA events. Scenarios are interleaved round by round.

    python -m mmcache.eval.bench_sparse_dit --densities 1.0,0.5,0.25 --out bench_sparse_dit.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

import torch

from .bench_core import build, denoise
from .bench_timing import lacks_gpu, write_partial, write_result


def summary(args: argparse.Namespace, setup: Any, per_step: dict[str, list[float]],
            density_seen: dict[str, float | None]) -> dict[str, Any]:
    """The result from the rounds timed so far (median step times, ratios to dense)."""
    dense = statistics.median(per_step["dense"])
    return {
        "config": vars(args),
        "device": torch.cuda.get_device_name() if setup.device.type == "cuda" else "cpu",
        "dense_step_seconds": dense,
        "scenarios": {
            name: {"step_seconds": statistics.median(values), "ratio_to_dense": statistics.median(values) / dense,
                   "measured_block_density": density_seen.get(name)}
            for name, values in per_step.items()
        },
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved rounds of dense and each density; what is measured so far is written after each round."""
    import mmcache

    setup = build(args)
    densities = [float(d) for d in args.densities.split(",")]
    per_step: dict[str, list[float]] = {"dense": []}
    per_step.update({f"density={d}": [] for d in densities})
    density_seen: dict[str, float | None] = {}
    denoise(setup, 2)  # warm-up
    for round_index in range(args.repeats):
        per_step["dense"] += denoise(setup, args.timing_steps)[1:]
        for density in densities:
            config = mmcache.SparseAttentionConfig(density=density, backend=args.backend)
            with mmcache.enabled(setup.transformer, config, num_inference_steps=args.timing_steps) as handle:
                per_step[f"density={density}"] += denoise(setup, args.timing_steps)[1:]
            density_seen[f"density={density}"] = handle.attention_stats()[0]["mean_density"]
        if round_index + 1 < args.repeats:
            write_partial(args.out, summary(args, setup, per_step, density_seen))
    return summary(args, setup, per_step, density_seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--densities", default="1.0,0.5,0.25")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--timing-steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--text-tokens", type=int, default=512)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--backend", default="auto", help="kernel backend: auto, triton or reference")
    parser.add_argument("--out", default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny model on the CPU (tests the script only)")
    args = parser.parse_args(argv)
    args.steps = args.timing_steps
    if args.smoke:
        args.device, args.dtype, args.backend = "cpu", "bfloat16", "reference"
        args.height, args.width, args.frames, args.text_tokens = 160, 160, 9, 8
        args.timing_steps, args.repeats = 3, 1
        args.steps = args.timing_steps
    elif lacks_gpu("bench_sparse_dit", args.device):
        return 2
    result = run(args)
    print(f"device {result['device']}; dense step {result['dense_step_seconds'] * 1000:.1f} ms")
    for name, row in result["scenarios"].items():
        print(f"{name:>14}  {row['step_seconds'] * 1000:9.1f} ms  {row['ratio_to_dense']:.3f}x dense  "
              f"block density {row['measured_block_density']}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
