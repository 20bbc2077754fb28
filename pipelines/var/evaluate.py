"""Measure a VAR pipeline: held-out prompt adherence, tokenizer reconstruction, speed.

    python -m mmcache.pipelines.var.evaluate --model toy-var --prompts 45 --out runs/var/eval
    python -m mmcache.pipelines.var.evaluate --model toy-var --guidance-scale 5 --skip reconstruction timing

``--prompts N`` images cycle through the 15 held-out captions (image ``i`` shows caption ``i mod 15``;
each caption's images come from one call seeded ``--seed`` + its index). Writes ``report.json`` into ``--out``
and prints a table per caption.
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

from ..loader import ModelNotFoundError, load
from .adherence import compare_images, score_image
from .captions import held_out_image_specs
from .data import EVAL_SEED, image_batch


def generate(pipe: Any, caption: str, count: int, seed: int, **call: Any) -> np.ndarray:
    """``count`` images of ``caption`` as ``[count, H, W, 3]`` floats in [0, 1], from one seeded call."""
    generator = torch.Generator().manual_seed(seed)
    return pipe(caption, num_images=count, generator=generator, output_type="np", **call).images


def adherence(pipe: Any, prompts: int, seed: int, **call: Any) -> dict[str, Any]:
    """Colour and shape adherence over ``prompts`` images of held-out captions, overall and per caption."""
    specs = held_out_image_specs()
    rows = []
    for index, spec in enumerate(specs[:prompts]):
        count = len(range(index, prompts, len(specs)))
        scores = [score_image(image, spec) for image in generate(pipe, spec.text, count, seed + index, **call)]
        judged = [s.shape_ok for s in scores if s.shape_ok is not None]
        rows.append({"caption": spec.text, "images": count, "colour_right": sum(s.colour_ok for s in scores),
                     "shape_right": sum(judged), "shape_judged": len(judged),
                     "seen": [f"{s.details['dominant_colour']} {s.details['shape']}" for s in scores]})
    total = {key: sum(row[key] for row in rows) for key in ("images", "colour_right", "shape_right", "shape_judged")}
    return {"colour": total["colour_right"] / total["images"],
            "shape": total["shape_right"] / max(1, total["shape_judged"]), **total, "captions": rows}


def reconstruction(pipe: Any, count: int) -> dict[str, float]:
    """The tokenizer's encode → decode fidelity on held-out images."""
    images = image_batch(EVAL_SEED, 0, count, "held_out", size=pipe.tokenizer.image_size)[0].to(pipe.device)
    decoded = pipe.tokenizer.reconstruct(images)
    as_np = lambda x: ((x.float().permute(0, 2, 3, 1).cpu().numpy() + 1) / 2).clip(0, 1)  # noqa: E731
    return {**compare_images(as_np(decoded), as_np(images)), "images": count}


def timing(pipe: Any, repeats: int = 3) -> dict[str, float]:
    caption = held_out_image_specs()[0].text
    generate(pipe, caption, 1, 0)  # warm-up
    seconds = []
    for index in range(repeats):
        start = time.perf_counter()
        generate(pipe, caption, 1, index)
        seconds.append(time.perf_counter() - start)
    return {"median_s": statistics.median(seconds), "threads": torch.get_num_threads()}


def table(result: dict[str, Any]) -> str:
    lines = [f"{'caption':<46} {'colour':>7} {'shape':>7}"]
    for row in result["captions"]:
        lines.append(f"{row['caption']:<46} {row['colour_right']:>3}/{row['images']:<3} "
                     f"{row['shape_right']:>3}/{row['shape_judged']:<3}")
    lines.append(f"{'all':<46} {result['colour']:>7.1%} {result['shape']:>7.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy-var", help="toy-var, tiny:var or a saved VAR pipeline folder")
    parser.add_argument("--out", type=Path, default=Path("runs/var/eval"))
    parser.add_argument("--prompts", type=int, default=45, help="images of held-out captions (15 captions, cycled)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--reconstruction-images", type=int, default=64)
    parser.add_argument("--guidance-scale", type=float, default=None, help="instead of the model's default")
    parser.add_argument("--top-k", type=int, default=None, help="instead of the model's default")
    parser.add_argument("--top-p", type=float, default=None, help="instead of the model's default")
    parser.add_argument("--skip", nargs="*", default=[], choices=["adherence", "reconstruction", "timing"])
    args = parser.parse_args(argv)
    if args.prompts < 1:
        parser.error(f"--prompts must be at least 1 (got {args.prompts}).")
    torch.set_num_threads(args.threads)
    try:
        pipe = load(args.model, device=args.device)
    except ModelNotFoundError as error:
        parser.error(str(error))
    if not hasattr(pipe, "sample_indices"):
        parser.error(f"{args.model} is not a VAR pipeline; pass toy-var, tiny:var or a folder saved by VARPipeline.")
    pipe.set_progress_bar_config(disable=True)
    given = {key: getattr(args, key) for key in ("guidance_scale", "top_k", "top_p") if getattr(args, key) is not None}
    report: dict[str, Any] = {"model": args.model, "seed": args.seed,
                              "call": {**getattr(pipe, "mmcache_call_defaults", {}), **given}}
    if "adherence" not in args.skip:
        report["held_out_adherence"] = adherence(pipe, args.prompts, args.seed, **given)
        print(table(report["held_out_adherence"]), flush=True)
    if "reconstruction" not in args.skip:
        report["tokenizer_reconstruction"] = reconstruction(pipe, args.reconstruction_images)
        print("reconstruction", report["tokenizer_reconstruction"], flush=True)
    if "timing" not in args.skip:
        report["image_timing"] = timing(pipe)
        print("timing", report["image_timing"], flush=True)
    print(f"report: {atomic_write_json(args.out / 'report.json', report)}")


if __name__ == "__main__":
    main()
