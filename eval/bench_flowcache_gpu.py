"""FlowCache on a SkyReels-V2-DF-1.3B-sized random model at 540P: time and memory of one window, side by side.

diffusers' ``SkyReelsV2DiffusionForcingPipeline`` (random weights, bf16, prompt embeddings given,
latent output) runs one window (97 frames by default, 57 in the GPU suite) of causal blocks of 5
latent frames with asynchronous ``ar_step``; after a one-step warm-up call, each scenario is timed
over the whole call and its peak GPU memory read: the plain pipeline, FlowCache's causal
restructuring alone, plus chunkwise reuse, plus KV compression to one chunk. Scenarios are
interleaved over ``--repeats`` rounds; medians are reported, and the result so far is written to
``--out`` after each scenario.

    python -m mmcache.eval.bench_flowcache_gpu --steps 10 --out bench_flowcache_gpu.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import torch

from .bench_timing import lacks_gpu, write_partial, write_result

DF_1_3B = {"num_attention_heads": 12, "attention_head_dim": 128, "num_layers": 30, "ffn_dim": 8960,
           "text_dim": 4096, "freq_dim": 256, "in_channels": 16, "out_channels": 16}
SMOKE = {"num_attention_heads": 2, "attention_head_dim": 16, "num_layers": 2, "ffn_dim": 64, "text_dim": 32,
         "freq_dim": 32, "in_channels": 4, "out_channels": 4}


def build(args: argparse.Namespace) -> Any:
    from diffusers import (AutoencoderKLWan, SkyReelsV2DiffusionForcingPipeline, SkyReelsV2Transformer3DModel,
                           UniPCMultistepScheduler)

    sizes = SMOKE if args.smoke else DF_1_3B
    torch.manual_seed(0)
    transformer = SkyReelsV2Transformer3DModel(patch_size=(1, 2, 2), rope_max_seq_len=1024,
                                               num_frame_per_block=args.causal_block_size, **sizes)
    vae = AutoencoderKLWan(base_dim=8, z_dim=sizes["in_channels"], dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=8.0)
    pipe = SkyReelsV2DiffusionForcingPipeline(tokenizer=None, text_encoder=None, transformer=transformer, vae=vae,
                                              scheduler=scheduler)
    dtype = getattr(torch, args.dtype)
    pipe.transformer.to(args.device, dtype)
    pipe.vae.to(args.device)
    pipe.set_progress_bar_config(disable=True)
    return pipe, sizes


def scenarios(args: argparse.Namespace) -> dict[str, Any]:
    import mmcache

    tokens_per_frame = (args.height // 16) * (args.width // 16)
    chunk = args.causal_block_size * tokens_per_frame
    return {
        "plain": None,
        "restructure": mmcache.FlowCacheConfig(threshold=0),
        "restructure + reuse": mmcache.FlowCacheConfig(threshold=args.threshold, warmup_steps=args.warmup_steps),
        "restructure + reuse + kv": mmcache.FlowCacheConfig(threshold=args.threshold, warmup_steps=args.warmup_steps,
                                                            kv_budget=chunk),
    }


def call(pipe: Any, sizes: dict[str, int], args: argparse.Namespace, config: Any,
         steps: int | None = None) -> tuple[float, int | None, Any]:
    """One pipeline call (``steps``: ``--steps`` unless given): seconds, peak CUDA bytes, (stats, latents)."""
    import mmcache

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    embeds = torch.randn(1, args.text_tokens, sizes["text_dim"], device=device, dtype=dtype,
                         generator=torch.Generator(device).manual_seed(1))
    kwargs = dict(prompt=None, prompt_embeds=embeds, negative_prompt_embeds=embeds * 0.5, height=args.height, width=args.width,
                  num_frames=args.frames, num_inference_steps=steps or args.steps, guidance_scale=6.0, ar_step=args.ar_step,
                  causal_block_size=args.causal_block_size, output_type="latent", addnoise_condition=0,
                  generator=torch.Generator(device).manual_seed(0))
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with mmcache.enabled(pipe, *([config] if config is not None else [])) as handle:
        start = time.perf_counter()
        latents = pipe(**kwargs).frames
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    return seconds, peak, (handle.history[-1], latents)


def summary(args: argparse.Namespace, timings: dict[str, list[float]], peaks: dict[str, int | None],
            stats: dict[str, Any]) -> dict[str, Any]:
    """The result from the scenarios timed so far (medians; speedups over the plain pipeline)."""
    plain = statistics.median(timings["plain"])
    return {
        "config": vars(args),
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "tokens_per_frame": (args.height // 16) * (args.width // 16),
        "scenarios": {name: {"seconds": statistics.median(values), "speedup": plain / statistics.median(values),
                             "peak_memory_bytes": peaks[name], **stats[name]}
                      for name, values in timings.items() if values},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """A one-step warm-up call, then the scenarios; what is measured so far is written after each one."""
    pipe, sizes = build(args)
    configs = scenarios(args)
    timings: dict[str, list[float]] = {name: [] for name in configs}
    peaks: dict[str, int | None] = {}
    stats: dict[str, Any] = {}
    reference = None
    call(pipe, sizes, args, None, steps=1)  # warm-up: kernels, allocator
    for _ in range(args.repeats):
        for name, config in configs.items():
            seconds, peak, (cache_stats, latents) = call(pipe, sizes, args, config)
            timings[name].append(seconds)
            peaks[name] = peak
            if name == "plain":
                reference = latents.float()
            error = float(((latents.float() - reference).norm() / reference.norm()).item())
            stats[name] = {"compute_saved": cache_stats.compute_saved or 0.0, "peak_kv_bytes": cache_stats.peak_kv_bytes,
                           "text_kv_bytes": cache_stats.text_kv_bytes, "chunk_counts": cache_stats.chunk_counts,
                           "relative_error_vs_plain": error}
            write_partial(args.out, summary(args, timings, peaks, stats))
    return summary(args, timings, peaks, stats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--height", type=int, default=544)
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--frames", type=int, default=97)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--ar-step", type=int, default=2)
    parser.add_argument("--causal-block-size", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=0.1, help="FlowCache threshold of the reuse scenarios")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--text-tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny model on the CPU (tests the script only)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.device, args.dtype = "cpu", "float32"
        args.height, args.width, args.frames, args.steps, args.text_tokens = 32, 32, 21, 4, 8
        args.causal_block_size, args.warmup_steps = 2, 1
    elif lacks_gpu("bench_flowcache_gpu", args.device):
        return 2
    result = run(args)
    print(f"device {result['device']}; {result['tokens_per_frame']} tokens per latent frame")
    for name, row in result["scenarios"].items():
        memory = f"{row['peak_memory_bytes'] / 2**30:.1f} GiB" if row["peak_memory_bytes"] else "-"
        print(f"{name:>26}  {row['seconds']:8.2f} s  {row['speedup']:.2f}x  saved {row['compute_saved']:.1%}  "
              f"peak {memory}  rel. error {row['relative_error_vs_plain']:.2e}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
