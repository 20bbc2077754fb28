"""Train toy-var's transformer by teacher-forced next-scale prediction on a frozen tokenizer.

Step ``s`` renders training images ``s·B … s·B + B − 1``, encodes them to the tokens of every scale, and
minimises the cross-entropy of all 130 tokens given the caption and the coarser scales (block-causal); a
``--cond-drop`` fraction of the captions is replaced by the unconditional id, for classifier-free guidance.
The export is a complete pipeline folder (``<out>/pipeline``) with toy-var's call defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from ..training import EMA, Run, add_ema_argument, add_run_arguments, run_options, step_generator
from .configs import TINY_TRANSFORMER, TOY_DEFAULTS, TOY_TRANSFORMER, build_transformer
from .data import image_batch
from .pipeline import VARPipeline, is_var_folder
from .vqvae import MultiScaleVQVAE

EXPORT = "pipeline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser, steps=3000, batch_size=32, lr=4e-4, out="runs/var/transformer")
    add_ema_argument(parser, 0.998)
    parser.add_argument("--tokenizer", type=Path, required=True,
                        help="the trained tokenizer: a `train tokenizer` export or a saved VAR pipeline folder")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--cond-drop", type=float, default=0.1, help="fraction of unconditional samples")
    parser.add_argument("--tiny", action="store_true", help="the tiny architecture (with a tiny tokenizer; tests)")


def load_tokenizer(path: Path) -> MultiScaleVQVAE:
    folder = path / "tokenizer" if is_var_folder(path) else path
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{path} holds no trained tokenizer (config.json); pass a `train tokenizer` export "
                                "(<run>/tokenizer) or a saved VAR pipeline folder.")
    return MultiScaleVQVAE.from_pretrained(str(folder)).eval().requires_grad_(False)


def run(args: argparse.Namespace) -> None:
    options = run_options(args)
    tokenizer = load_tokenizer(args.tokenizer).to(options.device)
    model = build_transformer(tokenizer, **(TINY_TRANSFORMER if args.tiny else TOY_TRANSFORMER))
    model = model.to(options.device).train()
    pipe = VARPipeline(tokenizer, model)  # maps captions to condition ids
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, betas=(0.9, 0.95), weight_decay=0.05)
    training = Run(options, model, optimizer, EMA(model, args.ema_decay) if args.ema_decay > 0 else None)

    def train_step(step: int) -> dict[str, float]:
        images, captions = image_batch(options.seed, step * options.batch_size, options.batch_size,
                                       size=tokenizer.image_size)
        indices = tokenizer.encode_indices(images.to(options.device))
        ids = pipe.condition_ids(captions)
        dropped = torch.rand(len(ids), generator=step_generator(options.seed, step, 3)) < args.cond_drop
        ids[dropped.to(ids.device)] = -1
        ids[dropped.to(ids.device), 0] = model.null_condition
        logits = model(ids, tokenizer.quantize.teacher_forcing_input(indices))
        target = torch.cat(indices, dim=1)
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        optimizer.step()
        right = logits.argmax(-1) == target
        begin = model.begin_ends[-1][0]
        return {"loss": loss.item(), "accuracy": float(right.float().mean()),
                "last_scale_accuracy": float(right[:, begin:].float().mean())}

    if training.train(train_step, warmup=args.warmup, progress=True):
        export = Path(options.out) / EXPORT
        VARPipeline(tokenizer, training.exported()).save_pretrained(export, defaults=TOY_DEFAULTS)
        print(f"exported {export}")
