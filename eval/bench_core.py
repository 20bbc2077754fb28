"""Overhead of the hook engine on a Wan2.1-1.3B-sized transformer (random weights), side by side.

Runs the denoising loop of a ``WanTransformer3DModel`` shaped like Wan2.1-T2V-1.3B (30 layers,
12 heads x 128, ffn 8960, text dim 4096) at 480x832, 81 frames, in bf16, and reports:

* step time with mmcache enabled but never reusing (EasyCache, threshold 0) over plain
  (goal <= 1.01x);
* the cost of a reused step as a fraction of a computed one (goal <= 1%);
* a 50-step run with half of the steps reused (fixed schedule) over the plain 50-step run
  (goal <= 0.52x);
* the same two overhead numbers for diffusers' ``FirstBlockCacheConfig`` as the peer.

All scenarios run in one process, interleaved round by round, timed with CUDA events.
``--smoke`` runs a tiny configuration on the CPU (used by the test suite).

    python -m mmcache.eval.bench_core --out bench_core.json
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from typing import Any, Callable

import torch

from .bench_timing import lacks_gpu, write_partial, write_result

WAN_1_3B = dict(num_layers=30, num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, text_dim=4096,
                freq_dim=256, in_channels=16, out_channels=16, patch_size=(1, 2, 2), cross_attn_norm=True,
                qk_norm="rms_norm_across_heads")
SMOKE = dict(num_layers=2, num_attention_heads=2, attention_head_dim=32, ffn_dim=64, text_dim=32, freq_dim=32,
             in_channels=4, out_channels=4, patch_size=(1, 2, 2), cross_attn_norm=True,
             qk_norm="rms_norm_across_heads")


@dataclasses.dataclass
class Setup:
    transformer: torch.nn.Module
    latents: torch.Tensor
    text: torch.Tensor
    timesteps: torch.Tensor
    device: torch.device


def build(args: argparse.Namespace) -> Setup:
    from diffusers import FlowMatchEulerDiscreteScheduler, WanTransformer3DModel

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    config = SMOKE if args.smoke else WAN_1_3B
    torch.manual_seed(0)
    with torch.device(device):
        transformer = WanTransformer3DModel(**config).eval()
    keep_fp32 = tuple(getattr(transformer, "_keep_in_fp32_modules", None) or ())
    for name, module in transformer.named_modules():
        # Cast like from_pretrained(torch_dtype=...) does: the listed modules stay in float32.
        if not any(part in keep_fp32 for part in name.split(".")):
            for tensor_name, tensor in list(module.named_parameters(recurse=False)):
                tensor.data = tensor.data.to(dtype)
    frames = (args.frames - 1) // 4 + 1
    latents = torch.randn(1, config["in_channels"], frames, args.height // 8, args.width // 8, device=device,
                          dtype=dtype)
    text = torch.randn(1, args.text_tokens, config["text_dim"], device=device, dtype=dtype)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=5.0)
    scheduler.set_timesteps(args.steps, device=device)
    return Setup(transformer, latents, text, scheduler.timesteps, device)


class StepTimer:
    """Per-forward wall time: CUDA events on a GPU, perf_counter on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.pending: list[Any] = []

    def __call__(self, fn: Callable[[], Any]) -> Any:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            self.pending.append((start, end))
        else:
            t0 = time.perf_counter()
            out = fn()
            self.pending.append(time.perf_counter() - t0)
        return out

    def seconds(self) -> list[float]:
        if self.cuda:
            torch.cuda.synchronize()
            return [start.elapsed_time(end) / 1000.0 for start, end in self.pending]
        return list(self.pending)


@torch.no_grad()
def denoise(setup: Setup, steps: int) -> list[float]:
    """A Wan-style Euler flow-matching loop (one branch); returns the per-forward seconds."""
    transformer, latents, timer = setup.transformer, setup.latents.clone(), StepTimer(setup.device)
    sigmas = torch.linspace(1.0, 0.0, steps + 1, device=setup.device)
    timesteps = setup.timesteps[:steps]
    for i, t in enumerate(timesteps):
        with transformer.cache_context("cond", step_index=i, num_inference_steps=steps):
            velocity = timer(lambda: transformer(hidden_states=latents, timestep=t.expand(1),
                                                 encoder_hidden_states=setup.text, return_dict=False)[0])
        latents = latents + (sigmas[i + 1] - sigmas[i]) * velocity
    return timer.seconds()


def scenario_runner(setup: Setup, name: str, steps: int) -> tuple[list[float], list[bool] | None]:
    """Run one scenario; returns per-forward seconds and, for mmcache, which forwards computed."""
    import mmcache
    from diffusers import FirstBlockCacheConfig

    module = setup.transformer
    if name == "plain":
        return denoise(setup, steps), None
    if name.startswith("fbc"):
        module.enable_cache(FirstBlockCacheConfig(threshold=0.0 if name == "fbc_never" else 1e9))
        try:
            return denoise(setup, steps), None
        finally:
            module.disable_cache()
    configs = {
        "mmcache_never": mmcache.EasyCacheConfig(threshold=0.0, warmup_steps=1),
        "mmcache_half": mmcache.ReuseScheduleConfig(reuse_steps=tuple(range(1, steps, 2))),
    }
    with mmcache.enabled(module, configs[name], num_inference_steps=steps) as handle:
        seconds = denoise(setup, steps)
    return seconds, [record.computed for record in handle.stats().timeline]


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def summarize(args: argparse.Namespace, setup: Setup, per_step: dict[str, list[float]], reused: list[float],
              computed: list[float], fbc_reused: list[float], plain_total: list[float],
              half_total: list[float]) -> dict[str, Any]:
    """The result from the timings so far (a measure not taken yet is None)."""
    med = {name: median_or_none(values) for name, values in per_step.items()}
    plain_run, half_run = median_or_none(plain_total), median_or_none(half_total)
    return {
        "config": {key: value for key, value in vars(args).items()},
        "device": torch.cuda.get_device_name() if setup.device.type == "cuda" else "cpu",
        "tokens": setup.latents.shape[2] * (setup.latents.shape[3] // 2) * (setup.latents.shape[4] // 2),
        "plain_step_seconds": med["plain"],
        "mmcache_never_reuse_step_ratio": ratio(med["mmcache_never"], med["plain"]),
        "mmcache_reused_step_fraction": ratio(median_or_none(reused), median_or_none(computed)),
        "mmcache_half_reused_run_ratio": ratio(half_run, plain_run),
        "fbc_never_reuse_step_ratio": ratio(med["fbc_never"], med["plain"]),
        "fbc_reused_step_fraction": ratio(median_or_none(fbc_reused), med["plain"]),
        "plain_run_seconds": plain_run,
        "half_reused_run_seconds": half_run,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Per-step rounds, then the full runs; the per-step ratios are written to ``--out`` before the full runs."""
    setup = build(args)
    short = args.timing_steps
    names = ["plain", "mmcache_never", "mmcache_half", "fbc_never", "fbc_always"]
    per_step: dict[str, list[float]] = {name: [] for name in names}
    reused: list[float] = []
    computed: list[float] = []
    fbc_reused: list[float] = []
    scenario_runner(setup, "plain", 2)  # warm-up: kernels, allocator
    for _ in range(args.repeats):
        for name in names:
            seconds, flags = scenario_runner(setup, name, short)
            body = seconds[1:]  # the first forward of every scenario builds its state
            if name == "mmcache_half":
                assert flags is not None
                reused += [s for s, f in zip(seconds, flags) if not f]
                computed += [s for s, f in zip(seconds[1:], flags[1:]) if f]
            elif name == "fbc_always":
                fbc_reused += body
            else:
                per_step[name] += body
    plain_total: list[float] = []
    half_total: list[float] = []
    write_partial(args.out, summarize(args, setup, per_step, reused, computed, fbc_reused, plain_total, half_total))
    for _ in range(args.full_repeats):
        plain_total.append(sum(scenario_runner(setup, "plain", args.steps)[0]))
        half_total.append(sum(scenario_runner(setup, "mmcache_half", args.steps)[0]))
    return summarize(args, setup, per_step, reused, computed, fbc_reused, plain_total, half_total)


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(measure, value, goal) for each headline number of a result ("n/a" for one not measured)."""
    def shown(key: str, form: str, unit: str = "", scale: float = 1.0) -> str:
        return "n/a" if result.get(key) is None else format(result[key] * scale, form) + unit

    return [
        ("plain step", shown("plain_step_seconds", ".1f", " ms", 1000), ""),
        ("mmcache enabled, never reusing / plain", shown("mmcache_never_reuse_step_ratio", ".4f", "x"), "<= 1.01x"),
        ("mmcache reused step / computed step", shown("mmcache_reused_step_fraction", ".2%"), "<= 1%"),
        (f"{result['config']['steps']}-step run, half reused / plain",
         shown("mmcache_half_reused_run_ratio", ".4f", "x"), "<= 0.52x"),
        ("FirstBlockCache never reusing / plain", shown("fbc_never_reuse_step_ratio", ".4f", "x"), "peer"),
        ("FirstBlockCache reused step / plain step", shown("fbc_reused_step_fraction", ".2%"), "peer"),
    ]


def print_table(result: dict[str, Any]) -> None:
    rows = summary_rows(result)
    width = max(len(r[0]) for r in rows)
    print(f"device {result['device']}, {result['tokens']} tokens")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>10}  {goal}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=50, help="steps of the full runs")
    parser.add_argument("--timing-steps", type=int, default=12, help="steps per round of the per-step timings")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the per-step timings")
    parser.add_argument("--full-repeats", type=int, default=2, help="repeats of the full 50-step runs")
    parser.add_argument("--text-tokens", type=int, default=512)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=None, help="write the results as JSON here (atomically)")
    parser.add_argument("--smoke", action="store_true", help="tiny model on the CPU (tests the script only)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.device, args.dtype = "cpu", "float32"
        args.height, args.width, args.frames, args.text_tokens = 32, 32, 5, 8
        args.steps, args.timing_steps, args.repeats, args.full_repeats = 8, 6, 1, 1
    elif lacks_gpu("bench_core", args.device):
        return 2
    result = run(args)
    print_table(result)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
