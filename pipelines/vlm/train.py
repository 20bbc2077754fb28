"""Train toy-vlm: ``python -m mmcache.pipelines.vlm.train --out runs/vlm --steps 2500 --max-minutes 150``.

Every step renders ``--batch-size`` new clips of training captions, asks each one question (the direction
twice as often as the others) and trains on the answer word and ``</s>`` only. Every ``--eval-every`` steps
the weight average answers all four questions about ``--eval-clips`` held-out clips (captions never trained on);
the accuracies go to ``log.jsonl`` and the average is exported to ``--out/model`` (``VideoQAPipeline`` layout).
Stopped by ``--max-minutes`` or killed, the same command continues from the checkpoint exactly; install the
export with ``python -m mmcache.pipelines.vlm.install runs/vlm/model``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import training
from .configs import TINY_VLM_SPEC, TOY_VLM_SPEC, VLMSpec, build_model, build_processor
from .data import evaluation_set, training_batch, with_answers
from .evaluate import accuracy
from .pipeline import VideoQAPipeline

SPECS = {"toy-vlm": TOY_VLM_SPEC, "tiny": TINY_VLM_SPEC}
EXPORT = "model"
WARMUP_STEPS = 100


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmcache.pipelines.vlm.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    training.add_run_arguments(parser, steps=2500, batch_size=32, lr=1e-3, out="runs/vlm")
    training.add_ema_argument(parser, 0.998)
    parser.add_argument("--architecture", choices=sorted(SPECS), default="toy-vlm",
                        help="model sizes (tiny: the random test model's, for smoke tests)")
    parser.add_argument("--eval-every", type=int, default=250, help="steps between held-out evaluations")
    parser.add_argument("--eval-clips", type=int, default=64, help="held-out clips per evaluation (4 questions each)")
    return parser


def answer_loss(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the answer word and ``</s>`` (the last two tokens), and whether each answer word is right."""
    logits = model(**batch, use_cache=False, logits_to_keep=3).logits[:, :2]
    targets = batch["input_ids"][:, -2:]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
    return loss, logits[:, 0].argmax(-1) == targets[:, 0]


def export(run: training.Run, processor, folder: Path) -> VideoQAPipeline:
    """The weight average as a saved ``VideoQAPipeline`` in ``folder``."""
    pipe = VideoQAPipeline(run.exported(), processor)
    pipe.save_pretrained(folder)
    return pipe


def main(argv: list[str] | None = None) -> bool:
    """Trains (or continues) the run; True when it reached ``--steps``."""
    args = build_parser().parse_args(argv)
    if args.eval_every < 1 or args.eval_clips < 1:
        raise SystemExit("--eval-every and --eval-clips must be at least 1.")
    options = training.run_options(args)
    spec: VLMSpec = SPECS[args.architecture]
    model = build_model(spec, seed=options.seed).to(options.device).train()
    processor = build_processor(spec)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=0.01)
    ema = training.EMA(model, args.ema_decay) if args.ema_decay > 0 else None
    run = training.Run(options, model, optimizer, ema)
    held_out = evaluation_set(args.eval_clips, spec.num_frames, spec.size)

    def train_step(step: int) -> dict[str, float]:
        examples = training_batch(options.seed, step, options.batch_size, spec.num_frames, spec.size)
        batch = with_answers(processor, examples).to(options.device)
        loss, right = answer_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return {"loss": float(loss.detach()), "answer_accuracy": float(right.float().mean())}

    def evaluate_and_export() -> None:
        result = accuracy(export(run, processor, Path(options.out) / EXPORT), held_out)
        run.write(event="eval", step=run.step, held_out={kind: share["accuracy"]
                                                          for kind, share in result["by_kind"].items()},
                  overall=result["overall"]["accuracy"], minutes=run.minutes)

    bar = tqdm(total=options.steps, initial=run.step, desc="training", unit="step", dynamic_ncols=True)

    def after_step(step: int) -> None:
        bar.update(1)
        if step % args.eval_every == 0 and step < options.steps:
            evaluate_and_export()

    finished = run.train(train_step, warmup=WARMUP_STEPS, after_step=after_step)
    bar.close()
    evaluate_and_export()
    print(f"{'finished' if finished else 'paused'} at step {run.step}; model: {Path(options.out) / EXPORT}")
    return finished


if __name__ == "__main__":
    main(sys.argv[1:])
