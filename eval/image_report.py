"""``results.json`` and ``report.md`` of ``mmcache eval --task image``, from every image's records."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np

from mmcache.files import atomic_write_json, atomic_write_text

from .calibrated_method import CalibratedMethod
from .image_records import ImageItem, StoredImage
from .plain_task_specs import PLAIN
from .schemas import ImageResults
from .store import ResultStore
from .var_images import image_row
from .versions import versions

RESULTS_SCHEMA_VERSION = 1
COLUMNS = ["method", "PSNR dB", "SSIM", "identical", "colour", "shape", "peak KV / plain", "KV held / plain",
           "attention FLOPs / plain", "time vs plain (median)"]


def summarize(methods: list[CalibratedMethod], stored: dict[str, list[StoredImage]]) -> dict[str, dict[str, Any]]:
    """Per method label: its description and its row against the plain images (``var_images.image_row``)."""
    reference = np.stack([item.pixels for item in stored[PLAIN]])
    summary = {}
    for method in methods:
        items = stored[method.label]
        records = [item.record for item in items]
        summary[method.label] = {**method.describe(), **image_row(
            np.stack([item.pixels for item in items]), reference, [record["colour_ok"] for record in records],
            [record["shape_ok"] for record in records], [record["ratios"] for record in records],
            [record["seconds"] / record["plain_seconds"] for record in records])}
    return summary


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def method_table(summary: dict[str, dict[str, Any]]) -> list[str]:
    """One row per method: fidelity to the plain images, adherence, KV and FLOP ratios, time ratio."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for label, row in summary.items():
        cells = [f"`{label}`", f"{row['psnr_db']:.2f}", f"{row['ssim']:.4f}", f"{row['identical']}/{row['images']}",
                 _share(row["colour"]), _share(row["shape"]), f"{row['kv_bytes_peak']:.3f}",
                 f"{row['kv_bytes_held']:.3f}", f"{row['attention_flops']:.3f}", f"{row['time']:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_report(results: dict[str, Any]) -> str:
    run = results["run"]
    seeds = ", ".join(str(seed) for seed in run["seeds"])
    lines = ["# mmcache eval: next-scale-prediction images", "",
             f"Model `{run['model']}` on {run['device']}: {run['images']} held-out images (the 15 held-out captions in "
             f"turn, image i seeded seed + i) for each seed of {seeds}, one image per call.", ""]
    calibrations = [f"`{label}`: {name}" for label, name in run["calibrations"].items()]
    if calibrations:
        lines += [f"HACK head classes ({run['calibration_source']}): {'; '.join(calibrations)}.", ""]
    lines += [*method_table(results["summary"]), "",
              "PSNR: of the mean squared error over all images against the plain images (100: all identical). SSIM: "
              "mean over images. Colour, shape: share of images whose caption's colour dominates / whose shape the "
              "detector recognises (of those it can judge). Peak KV: bytes read at the largest scale (kept tokens "
              "plus the scale being computed); KV held: bytes kept between scales; attention FLOPs: all computed; "
              "each over the plain cache's for the same image, mean over images. Time: median over images of the "
              "method's wall time over the plain pipeline's on the same image, measured in the same loop.", ""]
    return "\n".join(lines)


def _image_rows(items: list[ImageItem], methods: list[CalibratedMethod],
                stored: dict[str, list[StoredImage]]) -> list[dict[str, Any]]:
    """Per image: which it is and, per method, its PNG, whether it equals the plain image, its adherence."""
    rows = []
    for index, item in enumerate(items):
        plain = stored[PLAIN][index].pixels
        made = {method.label: stored[method.label][index] for method in methods}
        rows.append({"image": item.image, "seed_index": item.seed_index, "seed": item.seed, "caption": item.caption,
                     "methods": {label: {"file": image.record["file"],
                                         "identical": bool(np.array_equal(image.pixels, plain)),
                                         "colour_ok": image.record["colour_ok"], "shape_ok": image.record["shape_ok"]}
                                 for label, image in made.items()}})
    return rows


def write_results(store: ResultStore, methods: list[CalibratedMethod], stored: dict[str, list[StoredImage]],
                  items: list[ImageItem], run_info: dict[str, Any]) -> dict[str, Any]:
    """Summarize every method's images (one per item, plain first) and write results.json and report.md."""
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "task": "image",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions("torch"),
        "run": {**run_info, "methods": [method.describe() for method in methods]},
        "summary": summarize(methods, stored),
        "images": _image_rows(items, methods, stored),
    }
    ImageResults.model_validate(results)  # what readers will validate it against
    atomic_write_json(store.root / "results.json", results)
    atomic_write_text(store.root / "report.md", render_report(results))
    return results
