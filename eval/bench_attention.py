"""Benchmark of the sparse and quantized attention kernels against SDPA and FlexAttention.

Block-sparse attention, for each sequence length N and mask density: dense SDPA (cuDNN and Flash
backends), FlexAttention on the same block mask (a ``BlockMask`` of full blocks), and
``block_sparse_attention``; ms (CUDA events, warmup, median), TFLOP/s over the live blocks' FLOPs
and effective TFLOP/s over the dense FLOPs. Random masks of the given density keep the diagonal.
Quantized decode attention at a long context: KV bytes vs bf16 and time vs bf16 SDPA decode (L2
flushed before every run). Each configuration is checked against SDPA / the reference first.
The goals of docs/KERNELS.md are evaluated at the end.

    python -m mmcache.eval.bench_attention --out results.json
    python -m mmcache.eval.bench_attention --smoke          # tiny CPU run: tests the script only
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, TypeVar

import torch
import torch.nn.functional as F

from mmcache.kernels import (
    BLOCK_M, BLOCK_N, LiveBlocks, block_sparse_attention, compact_block_mask, quantize_kv, quantize_kv_mixed,
    quantized_decode_attention,
)
from mmcache.kernels.block_mask_estimation import diagonal_blocks
from mmcache.kernels.block_sparse_attention import (
    _block_sparse_attention_kernel, block_sparse_attention_reference, launch_block_sparse_attention,
)
from mmcache.kernels.quantized_decode_attention import quantized_decode_attention_reference
from mmcache.kernels.validation import AttentionShape

from .bench_timing import Timer, args_record, print_table, relative_error, tflops, write_partial, write_result
from .kernel_bench_setup import add_output_options, choose_device, kernel_backend

DTYPES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
TOLERANCE = {torch.bfloat16: 2e-2, torch.float16: 5e-3}
T = TypeVar("T")
SMOKE = dict(sizes=[256], densities=[1.0, 0.5], heads=2, dim=64, repeats=1, warmup=0, decode_context=512)


def parse_sizes(text: str) -> list[int]:
    """``"8k,32k,75k"`` -> ``[8192, 32768, 76800]`` (k = 1024)."""
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        sizes.append(int(float(item[:-1]) * 1024) if item.endswith("k") else int(item))
    return sizes


def random_block_mask(batch: int, heads: int, length: int, density: float, device: torch.device,
                      seed: int = 0) -> torch.Tensor:
    """Each query block keeps ``round(density * nkb)`` random key blocks, its diagonal among them."""
    num_q_blocks, num_k_blocks = -(-length // BLOCK_M), -(-length // BLOCK_N)
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(batch, heads, num_q_blocks, num_k_blocks, generator=generator)
    scores += 2.0 * diagonal_blocks(length, length, BLOCK_M, BLOCK_N, torch.device("cpu"))
    keep = min(num_k_blocks, max(1, round(density * num_k_blocks)))
    mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, scores.topk(keep, dim=-1).indices, True)
    return mask.to(device)


def live_flops(mask: torch.Tensor, length: int, head_dim: int) -> float:
    """4 * D * (number of live (query, key) pairs), ragged edge blocks counted exactly."""
    rows = torch.clamp(length - torch.arange(mask.shape[2]) * BLOCK_M, max=BLOCK_M).double()
    cols = torch.clamp(length - torch.arange(mask.shape[3]) * BLOCK_N, max=BLOCK_N).double()
    pairs = torch.einsum("bhij,i,j->", mask.cpu().double(), rows, cols)
    return 4.0 * head_dim * float(pairs)


def dense_backends(device: torch.device) -> list[tuple[str, Any]]:
    from torch.nn.attention import SDPBackend

    if device.type == "cuda":
        return [("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)]
    return [("math", SDPBackend.MATH)]


def sdpa_runner(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: Any) -> Callable[[], torch.Tensor]:
    from torch.nn.attention import sdpa_kernel

    def run() -> torch.Tensor:
        with sdpa_kernel([backend]):
            return F.scaled_dot_product_attention(q, k, v)

    return run


def flex_runner(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
                live: LiveBlocks) -> Callable[[], torch.Tensor]:
    """FlexAttention over the live blocks, all given as full blocks.

    The compiled kernel skips ``mask_mod`` on full blocks; it only makes Flex's eager (CPU) path,
    which ignores block sparsity, compute the same masked attention.
    """
    from torch.nn.attention.flex_attention import BlockMask, flex_attention

    def in_live_block(b: torch.Tensor, h: torch.Tensor, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
        return mask[b, h, q_idx // BLOCK_M, kv_idx // BLOCK_N]

    no_partial = torch.zeros_like(live.counts)
    blocks = dict(BLOCK_SIZE=(BLOCK_M, BLOCK_N), mask_mod=in_live_block)
    try:
        block_mask = BlockMask.from_kv_blocks(no_partial, live.indices, live.counts, live.indices, **blocks,
                                              seq_lengths=(q.shape[2], k.shape[2]))
    except TypeError:  # a torch without seq_lengths: lengths are then whole blocks
        block_mask = BlockMask.from_kv_blocks(no_partial, live.indices, live.counts, live.indices, **blocks)
    attend = torch.compile(flex_attention, dynamic=False) if q.is_cuda else flex_attention
    options = {"BLOCK_M": BLOCK_M, "BLOCK_N": BLOCK_N} if q.is_cuda else None
    try:
        attend(q, k, v, block_mask=block_mask, kernel_options=options)
    except Exception:  # noqa: BLE001 - this torch's Flex picks its own tiles
        options = None
    return lambda: attend(q, k, v, block_mask=block_mask, kernel_options=options)


def sampled_reference_error(out: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                            mask: torch.Tensor) -> float:
    """Worst relative error of ``out`` on the first, middle and last query blocks vs the reference."""
    num_q_blocks, worst = mask.shape[2], 0.0
    for block in sorted({0, num_q_blocks // 2, num_q_blocks - 1}):
        rows = slice(block * BLOCK_M, min((block + 1) * BLOCK_M, q.shape[2]))
        ref, _ = block_sparse_attention_reference(q[:, :, rows], k, v, mask[:, :, block:block + 1])
        worst = max(worst, relative_error(out[:, :, rows], ref))
    return worst


def try_run(fn: Callable[[], T]) -> tuple[T | None, str | None]:
    """``fn()`` and no error, or None and the error's type and first line (kept in the result's rows)."""
    try:
        return fn(), None
    except Exception as error:  # noqa: BLE001 - a backend missing on this machine is reported, not fatal
        return None, f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"


def bench_sparse_size(args: argparse.Namespace, length: int, timer: Timer, backend: str) -> list[dict[str, Any]]:
    device, dtype = args.device, DTYPES[args.dtype]
    generator = torch.Generator(device="cpu").manual_seed(length)
    q, k, v = (torch.randn(1, args.heads, length, args.dim, generator=generator).to(device, dtype) for _ in range(3))
    dense_flops = 4.0 * args.heads * length * length * args.dim
    tolerance = TOLERANCE[dtype]

    dense_ms: dict[str, float | None] = {}
    dense_out = None
    for name, sdpa_backend in dense_backends(device):
        run = sdpa_runner(q, k, v, sdpa_backend)
        out, error = try_run(run)
        dense_ms[name] = timer(run) if out is not None else None
        dense_out = out if dense_out is None else dense_out
        if error:
            print(f"  N={length}: SDPA {name} unavailable ({error})")
    best_dense = min((ms for ms in dense_ms.values() if ms), default=None)

    rows = []
    for density in args.densities:
        mask = random_block_mask(1, args.heads, length, density, device, seed=length + int(density * 1000))
        live = compact_block_mask(mask, causal=False, q_len=length, k_len=length)
        flops = live_flops(mask, length, args.dim)
        row: dict[str, Any] = {"N": length, "density": density, "live": round(live.live_fraction, 4),
                               **{f"sdpa_{n}_ms": ms for n, ms in dense_ms.items()}}

        ours = lambda: block_sparse_attention(q, k, v, live, backend=backend)  # noqa: E731
        ours_out, row["ours_error"] = try_run(ours)
        if row["ours_error"]:
            print(f"  N={length} d={density}: our kernel failed ({row['ours_error']})")
        row["ours_err"] = sampled_reference_error(ours_out, q, k, v, mask) if ours_out is not None else None
        if density == 1.0 and dense_out is not None and ours_out is not None:
            row["ours_vs_sdpa_err"] = relative_error(ours_out, dense_out)
        row["ours_ok"] = row["ours_err"] is not None and row["ours_err"] <= tolerance
        row["ours_ms"] = timer(ours) if row["ours_ok"] else None
        row["mask_to_lists_ms"] = timer(lambda: compact_block_mask(mask, causal=False, q_len=length, k_len=length))

        flex, row["flex_error"] = try_run(lambda: flex_runner(q, k, v, mask, live))
        flex_out = None
        if flex is not None:
            flex_out, row["flex_error"] = try_run(flex)
        if row["flex_error"]:
            print(f"  N={length} d={density}: FlexAttention unavailable ({row['flex_error']})")
        row["flex_err"] = sampled_reference_error(flex_out, q, k, v, mask) if flex_out is not None else None
        row["flex_ms"] = timer(flex) if row["flex_err"] is not None and row["flex_err"] <= tolerance else None

        row["ours_tflops"] = tflops(flops, row["ours_ms"])
        row["ours_eff_tflops"] = tflops(dense_flops, row["ours_ms"])
        row["flex_tflops"] = tflops(flops, row["flex_ms"])
        row["sdpa_tflops"] = tflops(dense_flops, best_dense)
        row["speedup_vs_sdpa"] = best_dense / row["ours_ms"] if best_dense and row["ours_ms"] else None
        row["speedup_vs_flex"] = row["flex_ms"] / row["ours_ms"] if row["flex_ms"] and row["ours_ms"] else None
        rows.append(row)
        if args.sweep_configs and density == 1.0 and device.type == "cuda":
            row["sweep"] = sweep_launch_configs(q, k, v, live, timer)
    return rows


def sweep_launch_configs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, live: LiveBlocks,
                         timer: Timer) -> dict[str, float]:
    """ms of our kernel for each (num_warps, num_stages), to tune ``launch_config``."""
    shape = AttentionShape(q.shape[0], q.shape[1], k.shape[1], q.shape[2], k.shape[2], q.shape[3])
    results = {}
    for warps in (4, 8):
        for stages in (2, 3, 4):
            run = lambda: launch_block_sparse_attention(  # noqa: E731
                q, k, v, live, shape, causal=False, scale=q.shape[-1] ** -0.5, return_lse=False,
                num_warps=warps, num_stages=stages)
            out, error = try_run(run)
            results[f"w{warps}s{stages}"] = timer(run) if out is not None else None
    print(f"  launch config sweep (ms): {results}")
    return results


def bench_decode(args: argparse.Namespace, timer: Timer, backend: str) -> list[dict[str, Any]]:
    """Quantized decode (1 new token) at ``--decode-context`` vs bf16 SDPA decode."""
    device, dtype, length = args.device, DTYPES[args.dtype], args.decode_context
    generator = torch.Generator(device="cpu").manual_seed(7)
    q = torch.randn(1, args.heads, 1, args.dim, generator=generator).to(device, dtype)
    k, v = (torch.randn(1, args.heads, length, args.dim, generator=generator).to(device, dtype) for _ in range(2))
    dense = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
    dense_out = dense()
    dense_bytes = k.nbytes + v.nbytes
    sdpa_ms = timer(dense, flush_l2=True)
    rows = [{"kv": f"{args.dtype} SDPA", "bytes_MB": dense_bytes / 2**20, "ratio_vs_bf16": 1.0, "ms": sdpa_ms,
             "GB_s": dense_bytes / (sdpa_ms * 1e-3) / 1e9 if sdpa_ms else None}]

    important = torch.rand(1, args.heads, length, generator=generator).argsort(-1)[..., : length // 10]
    variants = [(f"{bits}-bit g{args.group_size}", quantize_kv(k, v, bits, args.group_size)) for bits in (4, 2)]
    variants.append((f"4/2-bit mixed (10% at 4) g{args.group_size}",
                     quantize_kv_mixed(k, v, important.sort(-1).values.to(device), group_size=args.group_size)))
    for name, kv in variants:
        segments = kv if isinstance(kv, list) else [kv]
        nbytes = sum(seg.nbytes for seg in segments)
        run = lambda: quantized_decode_attention(q, kv, backend=backend)  # noqa: E731
        out, error = try_run(run)
        row: dict[str, Any] = {"kv": name, "bytes_MB": nbytes / 2**20, "ratio_vs_bf16": dense_bytes / nbytes}
        if out is None:
            print(f"  decode {name} failed: {error}")
            row.update(ok=False, ms=None)
        else:
            row["err_vs_dequant_ref"] = relative_error(out, quantized_decode_attention_reference(q, segments))
            row["err_vs_bf16_kv"] = relative_error(out, dense_out)
            row["ok"] = row["err_vs_dequant_ref"] <= TOLERANCE[dtype]
            row["ms"] = timer(run, flush_l2=True) if row["ok"] else None
        row["GB_s"] = nbytes / (row["ms"] * 1e-3) / 1e9 if row["ms"] else None
        row["speedup_vs_sdpa"] = sdpa_ms / row["ms"] if sdpa_ms and row["ms"] else None
        rows.append(row)
    return rows


def evaluate_goals(attention: list[dict[str, Any]], decode: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The GPU goals of docs/KERNELS.md, PASS / FAIL per configuration (n/a when not measured)."""
    def verdict(value: bool | None) -> str:
        return "n/a" if value is None else ("PASS" if value else "FAIL")

    goals = []
    for row in attention:
        speedup, density = row.get("speedup_vs_sdpa"), row["density"]
        if density == 1.0:
            goals.append({"goal": f"N={row['N']} d=1.0: >= 0.8x dense SDPA", "value": speedup,
                          "result": verdict(None if speedup is None else speedup >= 0.8)})
        elif density <= 0.25:
            target = 0.75 / density
            goals.append({"goal": f"N={row['N']} d={density}: >= {target:.2f}x SDPA", "value": speedup,
                          "result": verdict(None if speedup is None else speedup >= target)})
            versus_flex = row.get("speedup_vs_flex")
            goals.append({"goal": f"N={row['N']} d={density}: faster than Flex", "value": versus_flex,
                          "result": verdict(None if versus_flex is None else versus_flex > 1.0)})
    for row in decode[1:]:
        if row["kv"].startswith("4-bit"):
            goals.append({"goal": "decode 4-bit: >= 3.5x fewer KV bytes", "value": row["ratio_vs_bf16"],
                          "result": verdict(row["ratio_vs_bf16"] >= 3.5)})
            speedup = row.get("speedup_vs_sdpa")
            goals.append({"goal": "decode 4-bit: faster than bf16 SDPA", "value": speedup,
                          "result": verdict(None if speedup is None else speedup > 1.0)})
    return goals


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every size, then quantized decode; what is measured so far is written to ``--out`` after each size."""
    import triton

    timer = Timer(args.device, args.warmup, args.repeats)
    backend = kernel_backend(args.device, _block_sparse_attention_kernel)
    device_name = torch.cuda.get_device_name(args.device) if args.device.type == "cuda" else "cpu (smoke)"
    config = args_record(args)
    result: dict[str, Any] = {
        "device": device_name, "torch": torch.__version__, "triton": triton.__version__, "backend": backend,
        "block_m": BLOCK_M, "block_n": BLOCK_N, "config": config, "attention": [], "decode": [], "goals": []}
    for length in args.sizes:
        result["attention"] += bench_sparse_size(args, length, timer, backend)
        result["goals"] = evaluate_goals(result["attention"], [])
        write_partial(args.out, result)
    result["decode"] = bench_decode(args, timer, backend)
    result["goals"] = evaluate_goals(result["attention"], result["decode"])
    return result


def print_results(result: dict[str, Any]) -> None:
    print(f"device: {result['device']}  torch {result['torch']}  triton {result['triton']}  "
          f"blocks {result['block_m']}x{result['block_n']}")
    dense_columns = sorted({key for row in result["attention"] for key in row if key.startswith("sdpa_")
                            and key.endswith("_ms")})
    print_table("block-sparse attention (ms, TFLOP/s; eff = dense FLOPs / time)", result["attention"],
                ["N", "density", "live", *dense_columns, "flex_ms", "ours_ms", "mask_to_lists_ms", "sdpa_tflops",
                 "flex_tflops", "ours_tflops", "ours_eff_tflops", "speedup_vs_sdpa", "speedup_vs_flex", "ours_err",
                 "flex_err"])
    print_table("quantized decode attention (1 token)", result["decode"],
                ["kv", "bytes_MB", "ratio_vs_bf16", "ms", "GB_s", "speedup_vs_sdpa", "err_vs_dequant_ref",
                 "err_vs_bf16_kv"])
    smoke = result["device"].startswith("cpu")
    print_table("goals (CPU smoke run: the script is checked, nothing is measured)" if smoke else "goals",
                result["goals"], ["goal", "value", "result"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("8k,32k,75k"), help="e.g. 8k,32k,75k")
    parser.add_argument("--densities", type=lambda s: [float(x) for x in s.split(",")], default=[1.0, 0.5, 0.25, 0.1])
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--decode-context", type=int, default=32768)
    parser.add_argument("--group-size", type=int, default=64, help="quantization group size")
    parser.add_argument("--sweep-configs", action="store_true", help="also time num_warps/num_stages variants")
    add_output_options(parser)
    args = parser.parse_args(argv)
    if not choose_device(args, SMOKE, "bench_attention"):
        return 2
    result = run(args)
    print_results(result)
    write_result(args.out, result)
    checks = [row.get("ours_ok") for row in result["attention"]] + [row.get("ok") for row in result["decode"][1:]]
    if not all(checks):
        print("some correctness checks FAILED (see ours_err / err_vs_dequant_ref)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
