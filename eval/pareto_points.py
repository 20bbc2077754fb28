"""The operating points of the step-method Pareto comparison: one method spec each, with its warm-up.

Every method whose config has a warm-up setting (first steps always computed) runs with the same
warm-up as EasyCache, so no peer is compared without the help EasyCache gets; each point records
which setting carried it, or that the method has none.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

# The config field of each method that keeps its first steps computed (MagCache's is a share of the steps).
WARMUP_FIELDS = {
    "easycache": "warmup_steps",
    "diffusers-magcache": "retention_ratio",
    "diffusers-taylorseer": "disable_cache_before_step",
    "diffusers-seacache": "retention_steps",
    "cache-dit": "max_warmup_steps",
}
NO_WARMUP_FIELD = {
    "ertacache": "none (its calibrated schedule decides every step)",
    "diffusers-fbc": "none (FirstBlockCache has no warm-up setting)",
}
OWN_DEFAULT = "own"


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """One evaluated setting: ``method`` names its curve, ``setting`` what varies along it."""

    method: str
    spec: str
    setting: str
    warmup: str


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return format(value, "g") if isinstance(value, float) else str(value)


def _joined(params: dict[str, Any]) -> str:
    return ",".join(f"{key}={_text(value)}" for key, value in params.items())


def peer_warmup(args: argparse.Namespace) -> int | None:
    """Steps every method with a warm-up setting computes first; None keeps each peer's own default."""
    if args.peer_warmup is None:
        return args.easycache_warmup
    if args.peer_warmup == OWN_DEFAULT:
        return None
    try:
        steps = int(args.peer_warmup)
    except ValueError:
        steps = -1
    if steps < 0:
        raise ValueError(f"--peer-warmup {args.peer_warmup!r}: give a number of steps (0 or more) or '{OWN_DEFAULT}'.")
    return steps


def _warmup(name: str, warmup: int | None, steps: int) -> tuple[dict[str, Any], str]:
    """(the parameter that sets ``warmup`` steps on ``name``, the table's text for it)."""
    field = WARMUP_FIELDS.get(name)
    if field is None:
        return {}, NO_WARMUP_FIELD[name]
    if warmup is None:
        return {}, f"its default (`{field}` not set)"
    value = float(format(warmup / steps, "g")) if name == "diffusers-magcache" else warmup
    return {field: value}, f"{warmup} step{'' if warmup == 1 else 's'} (`{field}={_text(value)}`)"


def point(method: str, name: str, varied: dict[str, Any], fixed: dict[str, Any], warmup: int | None,
          steps: int) -> OperatingPoint:
    """The point of ``name`` with ``varied`` (shown) and ``fixed`` (same along the curve) parameters."""
    warmup_params, warmup_text = _warmup(name, warmup, steps)
    return OperatingPoint(method, f"{name}:{_joined({**fixed, **varied, **warmup_params})}", _joined(varied),
                          warmup_text)


def floats(text: str) -> list[float]:
    """``"0.1,0.2"`` → ``[0.1, 0.2]`` (an empty text: no points)."""
    return [float(part) for part in text.split(",") if part.strip()]


def cache_dit_points(args: argparse.Namespace, warmup: int | None, steps: int) -> list[OperatingPoint]:
    """DBCache with each number of first blocks computed, with and without each calibrator."""
    points = []
    for blocks in (int(value) for value in floats(args.cache_dit_blocks)):
        for calibrator in (part.strip() for part in args.cache_dit_calibrators.split(",") if part.strip()):
            fixed: dict[str, Any] = {"Fn_compute_blocks": blocks, "Bn_compute_blocks": 0}
            method = f"cache-dit F{blocks}B0"
            if calibrator != "none":
                fixed["calibrator"] = calibrator
                method += f" + {calibrator}"
            points += [point(method, "cache-dit", {"residual_diff_threshold": t}, fixed, warmup, steps)
                       for t in floats(args.cache_dit)]
    return points


def operating_points(args: argparse.Namespace, calibrations: list[Path], steps: int) -> list[OperatingPoint]:
    """Every point of the comparison, in evaluation order."""
    warmup = peer_warmup(args)
    points = [OperatingPoint("ertacache", f"ertacache:calibration={path}", f"calibration={path.name}",
                             NO_WARMUP_FIELD["ertacache"]) for path in calibrations]
    points += [point("easycache", "easycache", {"threshold": t}, {}, args.easycache_warmup, steps)
               for t in floats(args.easycache)]
    points += [point("diffusers-fbc", "diffusers-fbc", {"threshold": t}, {}, warmup, steps) for t in floats(args.fbc)]
    points += [point("diffusers-magcache", "diffusers-magcache", {"threshold": t}, {}, warmup, steps)
               for t in floats(args.magcache)]
    points += [point("diffusers-taylorseer", "diffusers-taylorseer", {"cache_interval": int(k), "use_lite_mode": True},
                     {}, warmup, steps) for k in floats(args.taylorseer)]
    points += [point("diffusers-seacache", "diffusers-seacache", {"threshold": t}, {}, warmup, steps)
               for t in floats(args.seacache)]
    return points + cache_dit_points(args, warmup, steps)
