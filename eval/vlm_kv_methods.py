"""The rows of the VLM KV benchmark: which method configs run, and PrefixKV's calibrations for them.

ZipVL has no budget knob (its ``tau`` is a share of attention mass), so its rows come at given taus,
in two cache modes: ``drop`` (ZipVL v2: unimportant tokens dropped, 16-bit) and ``quantize`` (v1:
important tokens at 4 bits, the others at 2, in groups of 32 channels or the head dim when smaller).
PrefixKV and the three baselines run at each budget; PrefixKV's per-layer fractions are calibrated
once per budget on clips of the training captions and kept beside the results.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

ZIPVL_CACHES = {"drop": "v2 drop", "quantize": "v1 4/2-bit"}
ZIPVL_GROUP = 32


def zipvl_config(tau: float, cache: str, head_dim: int) -> Any:
    import mmcache

    if cache == "drop":
        return mmcache.ZipVLConfig(tau=tau, drop_unimportant=True, important_bits=16)
    return mmcache.ZipVLConfig(tau=tau, group_size=math.gcd(ZIPVL_GROUP, head_dim))


def method_grid(budgets: list[float], taus: list[float], zipvl_caches: list[str], head_dim: int,
                calibrations: dict[float, Path | None]) -> dict[str, Any]:
    """Label → method config (``None``: the plain model): per budget PrefixKV and the baselines, then ZipVL per tau."""
    import mmcache

    grid: dict[str, Any] = {"plain": None}
    for budget in budgets:
        calibration = calibrations.get(budget)
        grid[f"prefixkv {budget:g}"] = mmcache.PrefixKVConfig(
            budget=budget, calibration=None if calibration is None else str(calibration))
        grid[f"streamingllm {budget:g}"] = mmcache.StreamingLLMConfig(budget=budget)
        grid[f"snapkv {budget:g}"] = mmcache.SnapKVConfig(budget=budget)
        grid[f"pyramidkv {budget:g}"] = mmcache.PyramidKVConfig(budget=budget)
    for cache in zipvl_caches:
        for tau in taus:
            grid[f"zipvl {ZIPVL_CACHES[cache]} tau {tau:g}"] = zipvl_config(tau, cache, head_dim)
    return grid


def file_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


def prefixkv_calibrations(pipe: Any, model: str, budgets: list[float], examples: Any, folder: Path,
                          quiet: bool) -> dict[float, Path | None]:
    """A calibration file per budget below 1 (budget 1 drops nothing and needs none), made once and kept in ``folder``."""
    from mmcache.pipelines.vlm.questions import KINDS

    files: dict[float, Path | None] = {}
    for budget in budgets:
        if budget >= 1:
            files[budget] = None
            continue
        path = calibration_file(folder, model, budget, len(examples) // len(KINDS))
        if not path.is_file():
            calibrate_prefixkv(pipe, budget, examples, path, quiet)
        files[budget] = path
    return files


def calibration_file(folder: Path, model: str, budget: float, clips: int) -> Path:
    """Where the PrefixKV calibration of ``model`` at ``budget`` on ``clips`` training clips is kept in ``folder``."""
    return folder / f"prefixkv-{file_label(model)}-budget{budget:g}-clips{clips}.json"


def calibrate_prefixkv(pipe: Any, budget: float, examples: Any, path: Path, quiet: bool) -> Path:
    """Calibrate PrefixKV at ``budget`` on every (clip, question) of ``examples`` and save the file at ``path``."""
    import mmcache

    inputs = [dict(pipe.inputs(frames, question)) for frames, question in zip(examples.frames, examples.questions)]
    mmcache.calibrate(pipe.model, method="prefixkv", inputs=inputs, budget=budget, progress=False).save(path)
    if not quiet:
        print(f"calibrated prefixkv at budget {budget:g} on {len(inputs)} prompts: {path}", file=sys.stderr)
    return path
