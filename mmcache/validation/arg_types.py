"""argparse ``type=`` converters that reject malformed values at parse time (a usage error, exit code 2).

Each raises ``argparse.ArgumentTypeError`` with a message that says what the flag takes; argparse
prefixes it with the flag's name (``argument --steps: ...``).
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

# torch.Generator.manual_seed takes any value that fits in 64 bits; the demo uses the same range.
MAX_SEED = 2**63 - 1


def _number(text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expects {what}, got {text!r}.") from None


def finite_float(text: str) -> float:
    """A real number (not nan or inf)."""
    value = _number(text, float)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expects a finite number, got {text!r}.")
    return float(value)


def non_negative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expects a number >= 0, got {text!r}.")
    return value


def int_in_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """A converter for whole numbers from ``low`` to ``high`` (no upper bound when ``None``)."""
    def convert(text: str) -> int:
        value = int(_number(text, int))
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"expects a whole number {bounds}, got {text!r}.")
        return value

    convert.__name__ = "whole number"
    return convert


positive_int = int_in_range(1)
non_negative_int = int_in_range(0)
seed_int = int_in_range(0, MAX_SEED)
port_int = int_in_range(1, 65535)


def non_empty_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty.")
    return text


def seed_list(text: str) -> tuple[int, ...]:
    """Comma-separated seeds, each from 0 to 2**63-1, none repeated."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("is empty: give comma-separated whole numbers, e.g. 0,1,2.")
    try:
        seeds = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects comma-separated whole numbers, got {text!r}.") from None
    bad = [seed for seed in seeds if not 0 <= seed <= MAX_SEED]
    if bad:
        raise argparse.ArgumentTypeError(f"seeds must be from 0 to {MAX_SEED}, got {bad[0]}.")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"repeats a seed: {text!r}.")
    return seeds


# what ``mmcache.pipelines.loader`` accepts as a dtype name
DTYPES = ("float32", "fp32", "float16", "fp16", "bfloat16", "bf16")


def open_fraction(text: str) -> float:
    """A number in (0, 1) (a budget: the fraction of something kept)."""
    value = _number(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expects a fraction between 0 and 1 (exclusive), got {text!r}.")
    return value


def kept_fraction(text: str) -> float:
    """A number in (0, 1] (a share of something kept; 1 keeps everything)."""
    value = _number(text, float)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expects a fraction in (0, 1] (1 keeps everything), got {text!r}.")
    return value


def closed_fraction(text: str) -> float:
    """A number in [0, 1] (a share, where both ends mean something)."""
    value = _number(text, float)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expects a number from 0 to 1, got {text!r}.")
    return value
