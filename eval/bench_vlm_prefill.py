"""Prefill attention of one Qwen2.5-VL-7B-sized language-model layer: dense SDPA vs the kept tokens only.

One layer's causal self-attention at each prompt length N (28 query heads, 4 KV heads, head dim
128, bf16, random q/k/v): dense ``F.scaled_dot_product_attention`` (K/V heads repeated to the
query heads first, as the model's SDPA path does) vs ``token_subset_attention`` over a kept
fraction of the tokens, as ZipVL's sparse prefill runs it (the kept queries attend to the kept
keys before them; a fixed random sorted subset per batch, shared by the heads, always with the last
token), and vs gathering the kept rows into a dense SDPA call and scattering them back. Reports ms
(CUDA events, warm-up, median), speedup over dense, the memory each call allocates beyond its
inputs, and the kernel's relative error against its PyTorch reference at ``--check-length``.

    python -m mmcache.eval.bench_vlm_prefill --out bench_vlm_prefill.json
    python -m mmcache.eval.bench_vlm_prefill --smoke    # tiny CPU run (TRITON_INTERPRET=1): tests the script only
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

import torch
import torch.nn.functional as F

from mmcache.kernels import token_subset_attention
from mmcache.kernels.masked_attention import expand_kv_heads
from mmcache.kv.attention import gathered_attention
from mmcache.kernels.token_subset_attention import _token_subset_attention_kernel

from .bench_attention import DTYPES, TOLERANCE, parse_sizes
from .bench_timing import Timer, args_record, print_table, relative_error, write_partial, write_result
from .kernel_bench_setup import add_output_options, choose_device, kernel_backend

SMOKE = dict(lengths=[256], heads=4, kv_heads=2, dim=32, repeats=1, warmup=0, check_length=256)


def parse_fractions(text: str) -> list[float]:
    """``"0.5,0.25,0.1"`` -> ``[0.5, 0.25, 0.1]``; each in (0, 1]."""
    fractions = [float(item) for item in text.split(",") if item.strip()]
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise argparse.ArgumentTypeError(f"--kept takes fractions in (0, 1], e.g. 0.5,0.25,0.1; got {text!r}")
    return fractions


def kept_tokens(length: int, fraction: float, batch: int, seed: int) -> torch.Tensor:
    """``[B, 1, K]`` sorted positions: a random ``fraction`` of the tokens per batch, the last token always in."""
    count = min(length, max(1, round(fraction * length)))
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batch):
        earlier = torch.randperm(length - 1, generator=generator)[: count - 1]
        rows.append(torch.cat([earlier, torch.tensor([length - 1])]).sort().values)
    return torch.stack(rows).unsqueeze(1)


def random_qkv(args: argparse.Namespace, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(length)
    dtype = DTYPES[args.dtype]
    q = torch.randn(args.batch, args.heads, length, args.dim, generator=generator).to(args.device, dtype)
    k, v = (torch.randn(args.batch, args.kv_heads, length, args.dim, generator=generator).to(args.device, dtype)
            for _ in range(2))
    return q, k, v


def dense_causal(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    heads = q.shape[1]
    return F.scaled_dot_product_attention(q, expand_kv_heads(k, heads), expand_kv_heads(v, heads), is_causal=True)


def gathered_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """ZipVL's path without the kernel: the kept rows gathered into one causal SDPA call, scattered into zeros."""
    return gathered_attention(q, k, v, keep, torch.zeros_like(q), q.shape[-1] ** -0.5)


def extra_memory_mib(fn: Callable[[], torch.Tensor], device: torch.device) -> float | None:
    """MiB one call allocates at its peak beyond what was allocated before it (CUDA only)."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2**20


def kernel_errors(args: argparse.Namespace, backend: str) -> list[dict[str, Any]]:
    """The kernel vs its float32 PyTorch reference at ``--check-length``, per kept fraction."""
    q, k, v = random_qkv(args, args.check_length)
    rows = []
    for fraction in args.kept:
        keep = kept_tokens(args.check_length, fraction, args.batch, seed=args.check_length).to(args.device)
        out = token_subset_attention(q, k, v, keep, causal=True, backend=backend)
        ref = token_subset_attention(q, k, v, keep, causal=True, backend="reference")
        error = relative_error(out, ref)
        rows.append({"N": args.check_length, "kept": fraction, "rel_error": error,
                     "ok": error <= TOLERANCE[DTYPES[args.dtype]]})
    return rows


def bench_length(args: argparse.Namespace, length: int, timer: Timer, backend: str) -> list[dict[str, Any]]:
    q, k, v = random_qkv(args, length)
    dense = lambda: dense_causal(q, k, v)  # noqa: E731
    dense_ms = timer(dense)
    rows = [{"N": length, "kept": 1.0, "method": "dense SDPA", "ms": dense_ms, "speedup": 1.0, "pairs": 1.0,
             "extra_MiB": extra_memory_mib(dense, args.device)}]
    for fraction in args.kept:
        keep = kept_tokens(length, fraction, args.batch, seed=length).to(args.device)
        kept = keep.shape[2]
        pairs = kept * (kept + 1) / (length * (length + 1))  # causal (query, key) pairs computed over dense
        runners = {"token_subset_attention": lambda: token_subset_attention(q, k, v, keep, causal=True,
                                                                            backend=backend),
                   "gather + SDPA": lambda: gathered_sdpa(q, k, v, keep)}
        for method, run in runners.items():
            ms = timer(run)
            rows.append({"N": length, "kept": fraction, "method": method, "ms": ms, "speedup": dense_ms / ms,
                         "pairs": pairs, "extra_MiB": extra_memory_mib(run, args.device)})
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The correctness checks, then each length; what is measured so far is written after each step."""
    timer = Timer(args.device, args.warmup, args.repeats)
    backend = kernel_backend(args.device, _token_subset_attention_kernel)
    device_name = torch.cuda.get_device_name(args.device) if args.device.type == "cuda" else "cpu (smoke)"
    config = args_record(args)
    result: dict[str, Any] = {"device": device_name, "torch": torch.__version__, "backend": backend,
                              "config": config, "checks": kernel_errors(args, backend), "timings": []}
    for length in args.lengths:
        write_partial(args.out, result)
        result["timings"] += bench_length(args, length, timer, backend)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=parse_sizes, default=parse_sizes("8k,16k,32k"), help="e.g. 8k,16k,32k")
    parser.add_argument("--kept", type=parse_fractions, default=parse_fractions("0.5,0.25,0.1"),
                        help="fractions of the tokens kept, e.g. 0.5,0.25,0.1")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=28)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--check-length", type=int, default=2048, help="N of the correctness check vs the reference")
    add_output_options(parser)
    args = parser.parse_args(argv)
    if not choose_device(args, SMOKE, "bench_vlm_prefill"):
        return 2
    result = run(args)
    print(f"device: {result['device']}  torch {result['torch']}  backend {result['backend']}")
    print_table("kernel vs PyTorch reference", result["checks"], ["N", "kept", "rel_error", "ok"])
    print_table("prefill attention (ms; pairs = causal pairs computed over dense)", result["timings"],
                ["N", "kept", "method", "ms", "speedup", "pairs", "extra_MiB"])
    write_result(args.out, result)
    if not all(row["ok"] for row in result["checks"]):
        print("the kernel's correctness check FAILED (see rel_error)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
