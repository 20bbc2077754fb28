"""Training plumbing shared by the bundled models' trainers (toy, var, vlm): run options, learning-rate schedule,
weight average, resumable runs.

The data and noise of step ``s`` are functions of ``(seed, s)`` only, so a run stopped (``--max-minutes``,
``--chunk-steps``, or killed) and rerun with the same command continues exactly as it would have gone on.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from mmcache.files import atomic_write_bytes

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_SECONDS = 300.0
LOG_EVERY = 25


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")


def add_run_arguments(parser: argparse.ArgumentParser, *, steps: int, batch_size: int, lr: float, out: str) -> None:
    """The options every trainer shares."""
    parser.add_argument("--out", type=Path, default=Path(out), help="run folder (checkpoint, log, export)")
    parser.add_argument("--steps", type=int, default=steps, help="optimizer steps of the run")
    parser.add_argument("--schedule-steps", type=int, default=None, help="length of the cosine learning-rate "
                                                                         "schedule (default --steps)")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0, help="data, noise and init seed")
    add_device_arguments(parser)
    parser.add_argument("--max-minutes", type=float, default=None, help="checkpoint and stop after this many minutes")
    parser.add_argument("--chunk-steps", type=int, default=None, help="checkpoint and stop after this many steps")


def add_ema_argument(parser: argparse.ArgumentParser, default: float) -> None:
    parser.add_argument("--ema-decay", type=float, default=default,
                        help=f"decay of the exported weight average (0: the trained weights; default {default})")


def stage_parsers(command: str, description: str | None, stages: dict) -> tuple[argparse.ArgumentParser, Any]:
    """A command line with one subcommand per training stage (an object with ``add_arguments`` and ``run``, helped
    by the first docstring line of ``run``, else of the object); returns the parser and its subparsers."""
    parser = argparse.ArgumentParser(prog=command, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="stage", required=True)
    for name, stage in stages.items():
        doc = stage.run.__doc__ or stage.__doc__ or ""
        stage.add_arguments(subparsers.add_parser(name, help=doc.strip().splitlines()[0]))
    return parser, subparsers


def run_options(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` once its shared options are checked, with torch set up for them (threads, init seed, device)."""
    if not 0 <= getattr(args, "ema_decay", 0.0) < 1:
        raise SystemExit(f"--ema-decay must lie in [0, 1) (got {args.ema_decay}).")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda was requested but torch sees no CUDA device.")
    torch.set_num_threads(max(1, args.threads))
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    return args


def step_generator(seed: int, step: int, salt: int = 0) -> torch.Generator:
    """CPU generator for the random numbers of one step (draw on CPU, then move to the device)."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) * 31 + salt)


def cosine_lr(step: int, total: int, base: float, warmup: int = 200, floor: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to ``floor * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def save_atomically(state: dict, path: Path) -> None:
    """``torch.save`` through an atomic write: a reader never sees half a file."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


class EMA:
    """Exponential moving average of a module's trainable parameters (those frozen when it is made are not
    averaged: an averaged copy keeps them as they are)."""

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
    def averaged_copy(self, module: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``module`` in eval mode holding the averaged weights; ``module`` is untouched."""
        average = copy.deepcopy(module)
        parameters = dict(average.named_parameters())
        for name, value in self.shadow.items():
            parameters[name].copy_(value)
        return average.eval()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow = {name: tensor.clone() for name, tensor in state.items()}


class Run:
    """One resumable training run in ``options.out``: its checkpoint, its ``log.jsonl`` and its step counter."""

    def __init__(self, options: argparse.Namespace, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 ema: EMA | None) -> None:
        self.options, self.model, self.optimizer, self.ema = options, model, optimizer, ema
        self.out, self.step, self.elapsed_before = Path(options.out), 0, 0.0
        self.out.mkdir(parents=True, exist_ok=True)
        if (self.out / CHECKPOINT).is_file():
            state = torch.load(self.out / CHECKPOINT, map_location="cpu", weights_only=False)
            if ("ema" in state) != (ema is not None):
                held = "with" if "ema" in state else "without"
                raise SystemExit(f"{options.out} holds a run {held} --ema-decay: resume it {held} the flag, "
                                 "or start the other kind of run in a new --out folder.")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if ema is not None:
                ema.load_state_dict(state["ema"])
            self.step, self.elapsed_before = state["step"], state["elapsed"]
            print(f"resumed at step {self.step} ({self.elapsed_before / 60:.1f} min trained)")
        self.started = time.monotonic()

    @property
    def minutes(self) -> float:
        return (self.elapsed_before + time.monotonic() - self.started) / 60

    def write(self, **record: object) -> None:
        """Appends one JSON line to ``log.jsonl`` and echoes it."""
        line = json.dumps(record, default=float)
        with (self.out / "log.jsonl").open("a") as handle:
            handle.write(line + "\n")
        tqdm.write(line)  # above a progress bar, if one is shown
        sys.stdout.flush()

    def save(self) -> None:
        extra = {} if self.ema is None else {"ema": self.ema.state_dict()}
        save_atomically({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                         "step": self.step, "elapsed": self.minutes * 60, **extra}, self.out / CHECKPOINT)

    def train(self, train_step: Callable[[int], dict[str, float]], warmup: int = 200,
              after_step: Callable[[int], None] | None = None, progress: bool = False) -> bool:
        """Runs ``train_step(step)`` (it returns the numbers to log) for every step left, with the learning rate
        set before and the weight average updated after; checkpoints every few minutes. False when the time
        box stopped it first (rerun to continue). ``progress`` shows a progress bar over the steps."""
        options, first_step, last_save, tick, records = self.options, self.step, time.monotonic(), time.monotonic(), []
        self.write(event="start", step=self.step, params=sum(p.numel() for p in self.model.parameters()))
        bar = tqdm(total=options.steps, initial=self.step, desc=self.out.name, disable=not progress, dynamic_ncols=True)
        with bar:
            while self.step < options.steps:
                if ((options.chunk_steps is not None and self.step - first_step >= options.chunk_steps) or
                        (options.max_minutes is not None and time.monotonic() - self.started >= 60 * options.max_minutes)):
                    self.save()
                    self.write(event="paused", step=self.step, minutes=self.minutes)
                    return False
                for group in self.optimizer.param_groups:
                    group["lr"] = cosine_lr(self.step, options.schedule_steps or options.steps, options.lr, warmup)
                records.append(train_step(self.step))
                if self.ema is not None:
                    self.ema.update(self.model, self.step)
                self.step += 1
                bar.update(1)
                if self.step % LOG_EVERY == 0:
                    means = {key: float(np.mean([r[key] for r in records])) for key in records[0]}
                    self.write(event="train", step=self.step, **means, lr=self.optimizer.param_groups[0]["lr"],
                               sec_per_step=(time.monotonic() - tick) / len(records), minutes=self.minutes)
                    tick, records = time.monotonic(), []
                if after_step is not None:
                    after_step(self.step)
                if time.monotonic() - last_save >= CHECKPOINT_SECONDS:
                    self.save()
                    last_save = time.monotonic()
        self.save()
        return True

    def exported(self) -> torch.nn.Module:
        """The weights to evaluate and export, as a copy in eval mode: the average where there is one."""
        return copy.deepcopy(self.model).eval() if self.ema is None else self.ema.averaged_copy(self.model)

    def finish(self, **record: object) -> None:
        self.write(event="done", step=self.step, minutes=self.minutes, **record)
