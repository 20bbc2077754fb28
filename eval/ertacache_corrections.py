"""ERTACache's two corrections, each on its own and together, against plain reuse of the same schedule.

Calibrates ERTACache on training captions of the reference grammar, then generates held-out prompts
four ways on the calibrated schedule: plain reuse, with the residual rectification, with the timestep
adjustment, and with both; each is scored by PSNR against the uncached output of the same prompt
and seed. Runs on the model's flow-matching Euler variant, the sampler the timestep adjustment is
defined on (toy-t2v ships Wan's UniPC).

    python -m mmcache.eval.ertacache_corrections --model toy-t2v
    python -m mmcache.eval.ertacache_corrections --model toy-t2v --calibration-background black

``--calibration-background`` draws every calibration caption from one background (how far the
fitted error model transfers to the others); ``--calibration-captions`` names them instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

VARIANTS = ("plain", "rectification", "time adjustment", "both")


def variant_configs(calibration: Any) -> dict[str, list[Any]]:
    """The four ways of running one calibration's schedule, by name."""
    import mmcache

    return {
        "plain": [mmcache.ReuseScheduleConfig(tuple(calibration.reuse_steps))],
        "rectification": [mmcache.ERTACacheConfig(calibration, time_adjustment=False)],
        "time adjustment": [mmcache.ERTACacheConfig(calibration, rectification=False)],
        "both": [mmcache.ERTACacheConfig(calibration)],
    }


def psnr_by_variant(pipe: Any, defaults: dict[str, Any], configs: dict[str, list[Any]], prompts: list[str],
                    first_seed: int = 100, progress: bool = False) -> dict[str, list[float]]:
    """PSNR against the uncached output, per variant and prompt (prompt ``i`` uses seed ``first_seed + i``)."""
    from tqdm.auto import tqdm

    from mmcache.pipelines.generation import GenerationRequest, run_generation
    from mmcache.quality import psnr

    scores: dict[str, list[float]] = {name: [] for name in configs}
    for index, prompt in enumerate(tqdm(prompts, desc="prompts", disable=not progress)):
        request = GenerationRequest(prompt=prompt, seed=first_seed + index).with_defaults(defaults)
        baseline = run_generation(pipe, request).frames
        for name, config in configs.items():
            scores[name].append(psnr(run_generation(pipe, request, config).frames, baseline))
    return scores


def calibration_captions(count: int, background: str | None) -> list[str]:
    """Training captions evenly spread over the grammar, or over one background's captions."""
    from mmcache.eval.pareto_step_methods import calibration_prompts
    from mmcache.pipelines.toy.captions import train_specs

    if background is None:
        return calibration_prompts(count)
    specs = [spec for spec in train_specs() if spec.background == background]
    return [specs[i].text for i in np.linspace(0, len(specs) - 1, min(count, len(specs))).round().astype(int)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from mmcache.pipelines.toy.captions import BACKGROUNDS

    parser = argparse.ArgumentParser(prog="python -m mmcache.eval.ertacache_corrections", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy-t2v", help="a bundled model name or a pipeline folder")
    parser.add_argument("--prompts", type=int, default=8, help="held-out prompts scored (evenly spread)")
    parser.add_argument("--calibration-prompts", type=int, default=4, help="training captions calibrated on")
    parser.add_argument("--calibration-background", choices=BACKGROUNDS, default=None,
                        help="draw every calibration caption from this background (default: all backgrounds)")
    parser.add_argument("--calibration-captions", nargs="+", default=None, metavar="CAPTION",
                        help="calibrate on exactly these captions (instead of --calibration-prompts/-background)")
    parser.add_argument("--threshold", type=float, default=0.15, help="ERTACache's lambda")
    parser.add_argument("--granularity", choices=("channel", "scalar"), default="channel",
                        help="error model: per latent channel or one pair per step")
    parser.add_argument("--steps", type=int, default=20, help="sampling steps")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--out", type=Path, default=None, help="also write the scores to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.prompts < 1 or args.calibration_prompts < 1 or args.steps < 3:
        parser.error("--prompts and --calibration-prompts must be at least 1, --steps at least 3.")
    if args.calibration_captions is not None and args.calibration_background is not None:
        parser.error("--calibration-captions names the captions; leave out --calibration-background.")
    if args.calibration_captions is not None and not all(text.strip() for text in args.calibration_captions):
        parser.error("--calibration-captions: every caption must be non-empty.")
    return args


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    import mmcache
    from mmcache.eval.pareto_step_methods import held_out_prompts
    from mmcache.files import atomic_write_json
    from mmcache.pipelines.euler_variant import euler_variant
    from mmcache.pipelines.generation import GenerationRequest, calibration_arguments
    from mmcache.pipelines.loader import generation_defaults, load

    args = parse_args(argv)
    defaults = {**generation_defaults(args.model), "num_inference_steps": args.steps}
    calibration_set = args.calibration_captions or calibration_captions(args.calibration_prompts,
                                                                        args.calibration_background)
    prompts = held_out_prompts(args.prompts)
    with tempfile.TemporaryDirectory() as folder:
        pipe = load(str(euler_variant(args.model, Path(folder) / "euler")), device=args.device)
        pipe.set_progress_bar_config(disable=True)
        settings = calibration_arguments(pipe, GenerationRequest(prompt=calibration_set[0]).with_defaults(defaults))
        calibration = mmcache.calibrate(pipe, prompts=calibration_set, seeds=[0], threshold=args.threshold,
                                        granularity=args.granularity, progress=not args.quiet, **settings)
        scores = psnr_by_variant(pipe, defaults, variant_configs(calibration), prompts, progress=not args.quiet)
    reused = f"{len(calibration.reuse_steps)}/{args.steps}"
    print(f"{args.model}: {reused} steps reused, calibrated on {calibration_set}")
    for name in VARIANTS:
        print(f"  {name:16s} mean {np.mean(scores[name]):6.2f} dB   per prompt "
              + " ".join(f"{value:.2f}" for value in scores[name]))
    if args.out is not None:
        atomic_write_json(args.out, {"model": args.model, "steps": args.steps, "threshold": args.threshold,
                                     "granularity": args.granularity, "reused": reused,
                                     "calibration_prompts": calibration_set, "prompts": prompts,
                                     "psnr": scores, "mean_psnr": {k: float(np.mean(v)) for k, v in scores.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
