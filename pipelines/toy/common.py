"""Shared training plumbing: options, seeding, time-boxed resumable runs, checkpoints, logs.

Every trainer is a loop over global step numbers. The data and the noise of step ``s`` are functions
of ``(seed, s)`` only, so a run split into chunks (``--max-minutes``) and resumed from its
checkpoint sees exactly the batches of an uninterrupted run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from mmcache.files import atomic_write_bytes

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"


@dataclasses.dataclass
class RunOptions:
    """Options every trainer shares."""

    out: Path
    steps: int
    batch_size: int
    lr: float
    seed: int = 0
    device: str = "cpu"
    threads: int = 2
    max_minutes: float | None = None
    eval_every: int = 500
    checkpoint_minutes: float = 5.0
    chunk_steps: int | None = None


def add_run_arguments(parser: argparse.ArgumentParser, *, steps: int, batch_size: int, lr: float,
                      out: str, eval_every: int = 500) -> None:
    parser.add_argument("--out", type=Path, default=Path(out), help="run folder (checkpoint, log, export)")
    parser.add_argument("--steps", type=int, default=steps, help="total optimizer steps of the run")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0, help="data, noise and init seed")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop (with a checkpoint) after this many minutes; rerun to resume")
    parser.add_argument("--eval-every", type=int, default=eval_every)
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0)
    parser.add_argument("--chunk-steps", type=int, default=None,
                        help="stop (with a checkpoint) after this many steps of this invocation; rerun to resume")


def run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(out=args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      device=args.device, threads=args.threads, max_minutes=args.max_minutes,
                      eval_every=args.eval_every, checkpoint_minutes=args.checkpoint_minutes,
                      chunk_steps=args.chunk_steps)


def setup_torch(options: RunOptions) -> torch.device:
    """Thread count, deterministic init seed and the device (clear error if CUDA is missing)."""
    torch.set_num_threads(max(1, options.threads))
    torch.set_flush_denormal(True)
    torch.manual_seed(options.seed)
    device = torch.device(options.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was requested but torch sees no CUDA device.")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def step_generator(seed: int, step: int, salt: int = 0) -> torch.Generator:
    """CPU generator for the random numbers of one step (draw on CPU, then move to the device)."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) * 31 + salt)


def cosine_lr(step: int, total: int, base: float, warmup: int = 200, floor: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to ``floor * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` through the project's atomic write: a reader never sees half a file."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def save_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    """Atomic write of ``folder/checkpoint.pt`` (synced to disk before it replaces the last one)."""
    save_atomically(state, Path(folder) / CHECKPOINT)


def load_checkpoint(folder: Path) -> dict[str, Any] | None:
    path = folder / CHECKPOINT
    return torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None


class RunLog:
    """Appends JSON lines to ``folder/log.jsonl`` and echoes them."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOG

    def write(self, **record: Any) -> None:
        line = json.dumps(record, default=float)
        with self.path.open("a") as handle:
            handle.write(line + "\n")
        print(line, flush=True)


class TimeBox:
    """Tracks wall time and steps of this chunk and of the whole run; says when to checkpoint or stop."""

    def __init__(self, max_minutes: float | None, checkpoint_minutes: float, elapsed_before: float = 0.0,
                 chunk_steps: int | None = None, first_step: int = 0) -> None:
        self.chunk_steps = chunk_steps
        self.first_step = first_step
        self.start = time.monotonic()
        self.last_checkpoint = self.start
        self.max_seconds = None if max_minutes is None else 60.0 * max_minutes
        self.checkpoint_seconds = 60.0 * checkpoint_minutes
        self.elapsed_before = elapsed_before

    @property
    def total_elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.start

    def out_of_time(self, step: int) -> bool:
        """True when this chunk has used its minutes or its steps."""
        if self.chunk_steps is not None and step - self.first_step >= self.chunk_steps:
            return True
        return self.max_seconds is not None and time.monotonic() - self.start >= self.max_seconds

    def checkpoint_due(self) -> bool:
        if time.monotonic() - self.last_checkpoint >= self.checkpoint_seconds:
            self.last_checkpoint = time.monotonic()
            return True
        return False


def pause_if_out_of_time(timebox: TimeBox, step: int, checkpoint: Any, log: RunLog) -> bool:
    """At the top of a training step: checkpoint and log a pause when the chunk is used up (True: stop)."""
    if not timebox.out_of_time(step):
        return False
    checkpoint()
    log.write(event="paused", step=step, minutes=timebox.total_elapsed / 60)
    return True


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def add_ema_argument(parser: argparse.ArgumentParser, default: float) -> None:
    """``--ema-decay``: the decay of the weight average that is evaluated and exported."""
    parser.add_argument("--ema-decay", type=float, default=default,
                        help="decay of the weight average that is evaluated and exported (about 1 / (1 - decay) "
                             "steps averaged; 0 exports the trained weights); lower it for short fine-tunes so "
                             f"the export follows them (default {default})")


def check_ema_decay(decay: float) -> None:
    """One clear error for a decay outside [0, 1)."""
    if not 0 <= decay < 1:
        raise SystemExit(f"--ema-decay must lie in [0, 1) (got {decay}).")


class EMA:
    """Exponential moving average of a module's trainable parameters (the exported weights).

    Frozen parameters (``requires_grad`` False when the average is made, e.g. the encoder of a
    decoder-only fine-tune) are not averaged: an averaged copy keeps them as they are.
    """

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, module: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        parameters = dict(module.named_parameters())
        for name, average in self.shadow.items():
            average.lerp_(parameters[name].detach(), 1 - decay)

    @torch.no_grad()
    def copy_to(self, module: torch.nn.Module) -> None:
        parameters = dict(module.named_parameters())
        for name, average in self.shadow.items():
            parameters[name].copy_(average)

    def averaged_copy(self, module: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``module`` in eval mode holding the averaged weights; ``module`` is untouched."""
        average = copy.deepcopy(module)
        self.copy_to(average)
        return average.eval()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow = {name: tensor.clone() for name, tensor in state.items()}
