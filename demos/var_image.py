"""One Image (VAR) request: a caption sampled with the plain KV cache and with a scale-KV method, compared.

Independent of Gradio, so it can be used and tested on its own; ``var_image_tab.py`` wraps it in the UI. After
one untimed warm-up of each side (the method's records which tokens every block kept after each scale,
``ScaleKVHandle.record_kept``), the two sides are timed ``timing_runs`` times, alternating, and each side's fastest
run counts (as ``mmcache generate --compare`` does). The KV numbers are the method's ``ScaleKVStats`` and the plain
cache's counted the same way (``ScaleKVStats.plain``); the kept tokens are drawn by ``kept_scales``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from mmcache.side_timing import time_sides
from mmcache.methods.base import MethodConfig
from mmcache.pipelines.var.measure import ImageRun, call_settings, sample_images
from mmcache.quality import psnr, ssim

from .kept_scales import ShareRow, save_kept_picture, share_rows
from .outputs import viewing_scale
from .state import TimedRunner
from .summary import _method_text, config_dict
from .var_calibration import with_calibration
from .var_image_checks import ImageRequest
from .validation import DemoInputError

SSIM_WINDOW = 11
IMAGE_GAP = 4  # white pixels between images, at viewing size
# progress(phase): "loading", "calibrating", "warm-up", "timing" or "drawing"
VARImageProgress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class VARImageResult:
    """Both image rows (PNG), the kept-token picture (PNG), the comparison (Markdown) and every number (JSON-ready)."""

    plain_images: Path
    method_images: Path
    kept_picture: Path
    summary: str
    metrics: dict[str, Any]


def save_image_row(images: np.ndarray, path: Path) -> Path:
    """``images [N, H, W, 3]`` side by side, nearest-neighbour upscaled for viewing, as a PNG."""
    factor = viewing_scale(images)
    big = images.repeat(factor, axis=1).repeat(factor, axis=2)
    gap = np.full((big.shape[1], IMAGE_GAP, 3), 255, dtype=np.uint8)
    row = np.concatenate([part for image in big for part in (image, gap)][:-1], axis=1)
    Image.fromarray(row).save(path, format="PNG")
    return path


def check_caption_words(pipe: Any, caption: str, model: str) -> None:
    """The pipeline's own check of the caption (its ``ValueError`` lists the words it knows)."""
    try:
        pipe.condition_ids(caption)
    except TypeError as error:  # a class-conditioned model
        raise DemoInputError(f"{model} is conditioned on class labels, not captions ({error}); choose a "
                             "caption-conditioned VAR model.") from None


def _costs(stats: Any, wall_seconds: float) -> dict[str, Any]:
    return {"wall_seconds": wall_seconds, "kv_bytes_peak": stats.kv_bytes_peak, "kv_bytes_held": stats.kv_bytes_held,
            "attention_flops": stats.attention_flops}


def _row_dict(row: ShareRow) -> dict[str, Any]:
    shares = [None if share is None else share.round(4).tolist() for share in row.shares]
    return {"block": row.block, "class": row.group, "heads": list(row.heads), "kept_share": shares}


def _ssim(images: np.ndarray, reference: np.ndarray) -> float | None:
    """SSIM, or ``None`` for images smaller than its 11-pixel window."""
    return ssim(images, reference) if min(images.shape[1:3]) >= SSIM_WINDOW else None


def _bytes(size: float) -> str:
    return f"{size / 2**20:.2f} MiB" if size >= 2**20 else f"{size / 1024:.1f} KiB"


def _ratio_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{1000 * value:.1f} ms"


def var_image_markdown(metrics: dict[str, Any]) -> str:
    """The comparison table (costs, their ratios, fidelity), the calibration used and what the picture shows."""
    plain, method, ratios = metrics["plain"], metrics["method"], metrics["ratios"]
    name = metrics["config"]["method"]
    similarity = "n/a (under 11 pixels)" if metrics["ssim"] is None else f"{metrics['ssim']:.4f}"
    rows = [
        (f"wall time (fastest of {metrics['timing_runs']})", _seconds(plain["wall_seconds"]),
         _seconds(method["wall_seconds"]), _ratio_text(ratios["wall_seconds"])),
        ("KV peak (kept + scale computed)", _bytes(plain["kv_bytes_peak"]), _bytes(method["kv_bytes_peak"]),
         _ratio_text(ratios["kv_bytes_peak"])),
        ("KV held between scales", _bytes(plain["kv_bytes_held"]), _bytes(method["kv_bytes_held"]),
         _ratio_text(ratios["kv_bytes_held"])),
        ("attention FLOPs", f"{plain['attention_flops'] / 1e6:.2f} M", f"{method['attention_flops'] / 1e6:.2f} M",
         _ratio_text(ratios["attention_flops"])),
        ("PSNR vs plain", "", f"{metrics['psnr_db']:.2f} dB", ""),
        ("SSIM vs plain", "", similarity, ""),
    ]
    verdict = "are identical to" if metrics["images_identical"] else "differ from"
    columns = len(metrics["kept_rows"][0]["kept_share"])
    lines = [f"**Method:** `{_method_text(metrics['config'])}`", "",
             f"| | plain cache | {name} | {name} / plain |", "|---|---|---|---|",
             *(f"| {label} | {a} | {b} | {ratio} |" for label, a, b, ratio in rows), "",
             f"The method's images {verdict} the plain cache's · wall-clock speedup {metrics['wall_speedup']:.2f}×."]
    if metrics["calibration"]:
        lines += ["", metrics["calibration"]]
    lines += ["", "**Kept tokens** (the first image's conditional branch): one row per block and head class, the "
                  "block's heads under its name (filled: the heads of that class). Column *scale s* shows the token "
                  "maps of scales 0 … s, coarse to fine, each token coloured by the share of the class's heads that "
                  "keep it after scale s: black where none does, light yellow where all do; grey where the block has "
                  f"no heads of the class. There are {columns} columns: after the last scale nothing is kept."]
    return "\n".join(lines)


class VARImageRunner(TimedRunner):
    """Samples on cached VAR models; safe to call from several threads (one request per model at a time)."""

    def run(self, model: str, request: ImageRequest, config: MethodConfig,
            progress: VARImageProgress | None = None) -> VARImageResult:
        """The images of ``request`` with the plain cache and with ``config``, their costs and the kept tokens.

        Raises ``ValueError`` (from the pipeline) for caption words the model does not know, ``DemoInputError``
        for a model that is not a caption-conditioned VAR pipeline, and whatever the method raises for settings
        the model cannot take (``ConfigError``, ``CalibrationMismatchError``).
        """
        progress = progress or (lambda _phase: None)
        started = time.perf_counter()
        loaded = self.loaded(model, progress)
        pipe = loaded.pipe
        if not hasattr(pipe, "sample_indices"):
            raise DemoInputError(f"{model} is not a next-scale-prediction (VAR) pipeline.")
        check_caption_words(pipe, request.caption, model)
        call = {**call_settings(model), "guidance_scale": request.guidance_scale}

        def sample(configs: list[MethodConfig], record_kept: bool = False) -> ImageRun:
            return sample_images(pipe, request.caption, request.num_images, request.seed, configs, call, record_kept)

        with loaded.lock:
            config, calibration = with_calibration(config, loaded, self.outputs.root / "calibrations", progress)
            progress("warm-up")
            sample([])
            recorded = sample([config], record_kept=True)
            progress("timing")
            plain_side, method_side = time_sides(lambda: sample([]), lambda: sample([config]), self.timing_runs)
        progress("drawing")
        plain, method, stats = plain_side.first, method_side.first, method_side.first.kv_stats
        rows = share_rows(recorded.kv_stats.kept_tokens(), stats.layout)
        num_heads = stats.records[0].heads
        folder = self.outputs.new_run()
        picture = save_kept_picture(rows, stats.layout, num_heads, folder / f"kept-{config.method}.png")
        metrics = {
            "model": model, "config": config_dict(config), "calibration": calibration,
            "request": dataclasses.asdict(request), "image_shape": list(plain.images.shape),
            "timing_runs": self.timing_runs,
            "plain": _costs(stats.plain(), plain_side.wall_seconds), "method": _costs(stats, method_side.wall_seconds),
            "ratios": {"wall_seconds": method_side.wall_seconds / plain_side.wall_seconds, **stats.ratios()},
            "wall_speedup": plain_side.wall_seconds / method_side.wall_seconds,
            "images_identical": bool(np.array_equal(plain.images, method.images)),
            "psnr_db": psnr(method.images, plain.images), "ssim": _ssim(method.images, plain.images),
            "patch_nums": list(stats.layout.patch_nums), "num_heads": num_heads,
            "kept_per_head": {str(layer): {str(scale): tokens for scale, tokens in per_scale.items()}
                              for layer, per_scale in stats.kept_per_head.items()},
            "kept_rows": [_row_dict(row) for row in rows],
        }
        metrics["request_seconds"] = time.perf_counter() - started
        return VARImageResult(save_image_row(plain.images, folder / "plain.png"),
                              save_image_row(method.images, folder / f"{config.method}.png"), picture,
                              var_image_markdown(metrics), metrics)
