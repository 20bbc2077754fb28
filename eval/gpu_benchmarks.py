"""The benchmarks the GPU suite runs (``gpu_suite.py``): one entry each, in running order.

An entry names a ``main(argv) -> exit code`` that writes its result as JSON to ``--out`` (every
``bench_*.py`` has one), the arguments that size it for the suite on one H100 and for the CPU
smoke run, a time limit on the GPU, and optionally the function that renders its result as
markdown (otherwise its top-level numbers are listed). Adding a benchmark is adding one entry.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

from .bench_timing import format_cell, markdown_table


@dataclasses.dataclass(frozen=True)
class GpuBenchmark:
    name: str
    summary: str
    main: str  # "module:function", run in a child process
    gpu_args: tuple[str, ...]
    smoke_args: tuple[str, ...]
    gpu_timeout_s: int
    markdown: str | None = None  # "module:function", result dict -> markdown lines
    triton_kernels: bool = False  # the smoke run needs TRITON_INTERPRET=1 to run the kernels on the CPU


def resolve(reference: str) -> Callable[..., Any]:
    """``"package.module:function"`` → the function."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def scalar_table(result: dict[str, Any]) -> list[str]:
    """The top-level numbers and strings of a result, one row each (for entries without a renderer)."""
    rows = [{"measure": key, "value": value} for key, value in result.items()
            if isinstance(value, (int, float, str, bool)) or value is None]
    return markdown_table(rows, ["measure", "value"])


def core_markdown(result: dict[str, Any]) -> list[str]:
    from .bench_core import summary_rows

    rows = [{"measure": name, "value": value, "goal": goal} for name, value, goal in summary_rows(result)]
    plain_run = result.get("plain_run_seconds")
    return [f"{result['tokens']} tokens per forward, plain {result['config']['steps']}-step run "
            f"{format_cell(plain_run)} s.", "", *markdown_table(rows, ["measure", "value", "goal"])]


def attention_markdown(result: dict[str, Any]) -> list[str]:
    dense = sorted({key for row in result["attention"] for key in row
                    if key.startswith("sdpa_") and key.endswith("_ms")})
    attention = markdown_table(
        result["attention"],
        ["N", "density", "live", *dense, "flex_ms", "ours_ms", "speedup_vs_sdpa", "speedup_vs_flex", "ours_err"],
        ["N", "density", "live blocks", *(f"SDPA {name[5:-3]} ms" for name in dense), "Flex ms", "ours ms",
         "vs SDPA", "vs Flex", "rel. error"])
    decode = markdown_table(result["decode"], ["kv", "bytes_MB", "ratio_vs_bf16", "ms", "speedup_vs_sdpa",
                                               "err_vs_dequant_ref"],
                            ["KV", "MB", "x fewer bytes", "ms", "vs SDPA", "rel. error"])
    goals = markdown_table(result["goals"], ["goal", "value", "result"])
    errors = [f"- N={row['N']}, density {row['density']}: {name}: {row[key]}" for row in result["attention"]
              for key, name in (("ours_error", "ours"), ("flex_error", "Flex")) if row.get(key)]
    return [f"Backend {result['backend']}, blocks {result['block_m']}x{result['block_n']}, triton {result['triton']}.",
            "", *attention, *(["", "Errors:", "", *errors] if errors else []),
            "", "Quantized decode attention, one new token:", "", *decode, "", *goals]


def sparse_dit_markdown(result: dict[str, Any]) -> list[str]:
    rows = [{"scenario": name, "step_ms": row["step_seconds"] * 1000, "ratio": row["ratio_to_dense"],
             "density": row["measured_block_density"]} for name, row in result["scenarios"].items()]
    return [f"Dense step {format_cell(result['dense_step_seconds'] * 1000)} ms.", "",
            *markdown_table(rows, ["scenario", "step_ms", "ratio", "density"],
                            ["attention", "step ms", "x dense", "measured block density"])]


def flowcache_markdown(result: dict[str, Any]) -> list[str]:
    rows = [{"scenario": name, "seconds": row["seconds"], "speedup": row["speedup"],
             "saved": row["compute_saved"], "memory": (row["peak_memory_bytes"] or 0) / 2**30,
             "kv": (row["peak_kv_bytes"] or 0) / 2**20, "error": row["relative_error_vs_plain"]}
            for name, row in result["scenarios"].items()]
    config = result["config"]
    return [f"{config['frames']} frames, {result['tokens_per_frame']} tokens per latent frame, {config['steps']} "
            f"steps.", "",
            *markdown_table(rows, ["scenario", "seconds", "speedup", "saved", "memory", "kv", "error"],
                            ["scenario", "window s", "speedup", "compute saved", "peak GiB", "peak KV MiB",
                             "rel. error vs plain"])]


def vlm_prefill_markdown(result: dict[str, Any]) -> list[str]:
    config = result["config"]
    timings = markdown_table(result["timings"], ["N", "kept", "method", "ms", "speedup", "pairs", "extra_MiB"],
                             ["N", "kept", "attention", "ms", "vs dense", "pairs computed", "extra MiB"])
    checks = markdown_table(result["checks"], ["N", "kept", "rel_error"], ["N", "kept", "rel. error vs reference"])
    return [f"{config['heads']} query heads, {config['kv_heads']} KV heads, head dim {config['dim']}, {config['dtype']}, "
            f"causal; kernel backend {result['backend']}.", "", *timings, "", "Kernel correctness:", "", *checks]


def var_kv_markdown(result: dict[str, Any]) -> list[str]:
    rows = [{**row, "ms": row["seconds_per_image"] * 1000,
             "memory": row["peak_memory_bytes"] / 2**30 if row["peak_memory_bytes"] is not None else None}
            for row in result["sides"]]
    calibration, config = result["calibration"], result["config"]
    return [f"{result['tokens']} tokens per {result['image_size']}x{result['image_size']} image, batch "
            f"{config['batch']} with CFG, {config['dtype']}; HACK's head classes: {calibration['how']} "
            f"({calibration['contextual_share']:.0%} contextual, {calibration['seconds']:.1f} s).", "",
            *markdown_table(rows, ["side", "ms", "speedup", "memory", "kv_peak_ratio", "kv_held_ratio",
                                   "flops_ratio"],
                            ["KV cache", "ms per image", "speedup", "peak GiB", "KV peak / plain",
                             "KV held / plain", "attention FLOPs / plain"])]


BENCHMARKS: tuple[GpuBenchmark, ...] = (
    GpuBenchmark(
        "core", "hook-engine overhead on a Wan2.1-1.3B-sized transformer, 480x832, 81 frames, bf16",
        "mmcache.eval.bench_core:main",
        ("--steps", "20", "--timing-steps", "6", "--repeats", "2", "--full-repeats", "1"),
        ("--smoke",), gpu_timeout_s=110, markdown="mmcache.eval.gpu_benchmarks:core_markdown"),
    GpuBenchmark(
        "attention", "block-sparse and quantized decode attention kernels vs SDPA and FlexAttention",
        "mmcache.eval.bench_attention:main",
        ("--sizes", "8k,32k,75k", "--densities", "1.0,0.25", "--repeats", "10", "--warmup", "3"),
        ("--smoke",), gpu_timeout_s=150, markdown="mmcache.eval.gpu_benchmarks:attention_markdown",
        triton_kernels=True),
    GpuBenchmark(
        "sparse-dit", "step time of the Wan2.1-1.3B-sized transformer with block-sparse attention vs dense",
        "mmcache.eval.bench_sparse_dit:main", ("--densities", "1.0,0.5,0.25", "--timing-steps", "5", "--repeats", "2"),
        ("--smoke", "--densities", "1.0,0.5"), gpu_timeout_s=95,
        markdown="mmcache.eval.gpu_benchmarks:sparse_dit_markdown"),
    GpuBenchmark(
        "flowcache", "one 57-frame window of a SkyReels-V2-DF-1.3B-sized model at 540P: FlowCache's sources of saving",
        "mmcache.eval.bench_flowcache_gpu:main", ("--frames", "57", "--steps", "6", "--repeats", "1"), ("--smoke",),
        gpu_timeout_s=150, markdown="mmcache.eval.gpu_benchmarks:flowcache_markdown"),
    GpuBenchmark(
        "vlm-prefill", "prefill attention of a Qwen2.5-VL-7B-sized layer over the kept tokens only vs dense SDPA",
        "mmcache.eval.bench_vlm_prefill:main", ("--lengths", "8k,16k,32k", "--repeats", "5", "--warmup", "2"),
        ("--smoke",), gpu_timeout_s=50, markdown="mmcache.eval.gpu_benchmarks:vlm_prefill_markdown",
        triton_kernels=True),
    GpuBenchmark(
        "var-kv", "scale-by-scale sampling of a VAR-d16-sized model, 16 images at 256x256 with CFG: plain KV cache vs "
        "HACK and ScaleTopK at budget 0.3",
        "mmcache.eval.bench_var_kv_gpu:main", ("--budget", "0.3", "--repeats", "3"), ("--smoke",),
        gpu_timeout_s=45, markdown="mmcache.eval.gpu_benchmarks:var_kv_markdown"),
)


def benchmark_names() -> list[str]:
    return [benchmark.name for benchmark in BENCHMARKS]
