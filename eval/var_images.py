"""What the scale-KV evaluations of a VAR model share (``mmcache eval --task image``, ``bench_var_kv``).

The held-out images (``--prompts N`` cycles through the 15 held-out captions, image ``i`` seeded
``seed + i``), one image under a method with its wall time and ``ScaleKVStats``, HACK's head classes
from training captions, and a method's row against the plain images: PSNR of the mean squared error
over all images, mean SSIM, identical images, colour and shape adherence, the mean KV and FLOP ratios
over the plain cache's and the median wall-time ratio over the plain pipeline's.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATED = ("hack", "scalekv")  # scale-KV methods that read a HACK calibration file
RATIOS = ("kv_bytes_peak", "kv_bytes_held", "attention_flops")
CALL_SETTINGS = ("guidance_scale", "top_k", "top_p", "guidance_ramp")  # VARPipeline's sampling knobs


def held_out_images(count: int, seed: int) -> list[tuple[str, int]]:
    """``(caption, seed)`` of each of ``count`` images: the held-out captions in turn, image ``i`` seeded ``seed + i``."""
    from mmcache.pipelines.var.captions import held_out_image_specs

    specs = held_out_image_specs()
    return [(specs[index % len(specs)].text, seed + index) for index in range(count)]


def training_images(count: int, seed: int) -> list[tuple[str, int]]:
    """``(caption, seed)`` of ``count`` images of training captions spread evenly (``calibration_captions``; past
    the 30 captions they repeat), image ``i`` seeded ``seed + i``: for choosing a method's settings without
    looking at held-out captions."""
    from mmcache.pipelines.var.captions import calibration_captions, train_image_specs

    pool = calibration_captions(min(count, len(train_image_specs())))
    return [(pool[index % len(pool)], seed + index) for index in range(count)]


def generate_one(pipe: Any, config: Any, caption: str, seed: int) -> tuple[np.ndarray, float, dict[str, Any]]:
    """One image (uint8 ``[H, W, 3]``), its wall time and, under a method (or a bound of ``var_kv_bounds``, which
    enables itself), its ``ScaleKVStats`` as a dict."""
    import torch

    import mmcache

    if config is None:
        handle = None
    else:
        handle = config.enable(pipe) if hasattr(config, "enable") else mmcache.enable(pipe, config)
    try:
        start = time.perf_counter()
        image = pipe(caption, num_images=1, generator=torch.Generator().manual_seed(seed), output_type="np").images[0]
        seconds = time.perf_counter() - start
        stats = handle.stats().to_dict() if handle is not None else {}
    finally:
        if handle is not None:
            handle.disable()
    return (image * 255).round().astype(np.uint8), seconds, stats


def calibrate_heads(pipe: Any, path: Path, captions: int, quiet: bool, contextual_fraction: float = 0.5) -> Path:
    """HACK's head classes from ``captions`` training captions (seed 0), sampled with the model's stored settings
    (``mmcache_defaults.json``, as its images are), saved at ``path``."""
    import mmcache
    from mmcache.pipelines.var.captions import calibration_captions

    stored = getattr(pipe, "mmcache_call_defaults", {})
    made = mmcache.calibrate(pipe, method="hack", prompts=calibration_captions(captions), seeds=[0],
                             contextual_fraction=contextual_fraction, progress=not quiet,
                             **{key: value for key, value in stored.items() if key in CALL_SETTINGS})
    made.save(path)
    if not quiet:
        print(f"calibrated hack's head classes on {captions} training captions: {path}", file=sys.stderr)
    return path


def pooled_psnr(images: np.ndarray, reference: np.ndarray) -> float:
    """PSNR (dB) of the mean squared error over all images together (``PSNR_CAP`` when all are identical): one
    differing image counts by its error, not by an average of per-image dBs that identical images inflate."""
    from mmcache.quality import PSNR_CAP

    mse = float(np.mean((images.astype(np.float64) / 255 - reference.astype(np.float64) / 255) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, -10 * float(np.log10(mse)))


def image_row(images: np.ndarray, reference: np.ndarray, colour_ok: list[bool], shape_ok: list[bool | None],
              ratios: list[dict[str, float | None] | None], time_ratios: list[float]) -> dict[str, Any]:
    """One method's row: fidelity of ``images`` to the plain ``reference`` (uint8 ``[N, H, W, 3]``), adherence,
    mean ratios over the plain cache's (1.0 where none was measured: the plain pipeline) and median time ratio."""
    from mmcache.quality import ssim

    judged = [ok for ok in shape_ok if ok is not None]

    def mean_ratio(name: str) -> float:
        values = [ratio[name] for ratio in ratios if ratio and ratio.get(name) is not None]
        return float(np.mean(values)) if values else 1.0

    return {
        "psnr_db": pooled_psnr(images, reference),
        "ssim": ssim(images, reference),
        "identical": int(sum(np.array_equal(a, b) for a, b in zip(images, reference))),
        "colour": sum(colour_ok) / len(colour_ok),
        "shape": sum(judged) / len(judged) if judged else None,
        **{name: mean_ratio(name) for name in RATIOS},
        "time": statistics.median(time_ratios),
        "images": len(images),
    }
