"""``results.json`` and ``report.md`` of ``mmcache eval --task image``, from every image's records.

A method's scores cover the images both it and the plain pipeline made (``plain_task_outcomes``); its
row also says how many images it made, failed or has no record for, and a "Failures" section names
each error."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np

from mmcache.files import atomic_write_json, atomic_write_text

from .calibrated_method import CalibratedMethod
from .image_records import ImageItem, StoredImage
from .plain_task_outcomes import outcome_of, outcomes, paired
from .plain_task_specs import PLAIN
from .report_text import failures_section, number_text, on_device
from .schemas import ImageResults
from .store import ResultStore
from .var_images import image_row
from .versions import versions

RESULTS_SCHEMA_VERSION = 2
COLUMNS = ["method", "PSNR dB", "SSIM", "identical", "colour", "shape", "peak KV / plain", "KV held / plain",
           "attention FLOPs / plain", "time vs plain (median)", "images"]
NO_SCORES = {"psnr_db": None, "ssim": None, "identical": 0, "colour": None, "shape": None, "kv_bytes_peak": None,
             "kv_bytes_held": None, "attention_flops": None, "time": None, "images": 0}  # no image made by both


def _records(images: list[StoredImage | None]) -> list[dict[str, Any] | None]:
    return [None if image is None else image.record for image in images]


def _scores(images: list[StoredImage], reference: list[StoredImage]) -> dict[str, Any]:
    """``var_images.image_row`` of ``images`` against the plain ``reference`` images (the same items, in order)."""
    records = [image.record for image in images]
    return image_row(np.stack([image.pixels for image in images]), np.stack([image.pixels for image in reference]),
                     [record["colour_ok"] for record in records], [record["shape_ok"] for record in records],
                     [record["ratios"] for record in records],
                     [record["seconds"] / record["plain_seconds"] for record in records])


def summarize(methods: list[CalibratedMethod], stored: dict[str, list[StoredImage | None]]) -> dict[str, dict[str, Any]]:
    """Per method label: its description, outcomes and row against the plain images, over the images both made."""
    plain = stored[PLAIN]
    summary = {}
    for method in methods:
        own = stored[method.label]
        both = paired(_records(own), _records(plain))
        scores = _scores([own[index] for index in both], [plain[index] for index in both]) if both else NO_SCORES
        summary[method.label] = {**method.describe(), **outcomes(_records(own)), **scores}
    return summary


def _share(value: float | None) -> str:
    return number_text(value, ".1%")


def method_table(summary: dict[str, dict[str, Any]]) -> list[str]:
    """One row per method: fidelity to the plain images, adherence, KV and FLOP ratios, time ratio."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for label, row in summary.items():
        cells = [f"`{label}`", number_text(row["psnr_db"], ".2f"), number_text(row["ssim"], ".4f"),
                 f"{row['identical']}/{row['images']}", _share(row["colour"]), _share(row["shape"]),
                 *(number_text(row[name], ".3f") for name in ("kv_bytes_peak", "kv_bytes_held", "attention_flops")),
                 number_text(row["time"], ".2f", "x"), outcome_of(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_report(results: dict[str, Any]) -> str:
    run = results["run"]
    seeds = ", ".join(str(seed) for seed in run["seeds"])
    lines = ["# mmcache eval: next-scale-prediction images", "",
             f"Model `{run['model']}`{on_device(run)}: {run['images']} held-out images (the 15 held-out captions in "
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
              "method's wall time over the plain pipeline's on the same image, measured in the same loop. All of them "
              "over the images both the method and the plain pipeline made.", "", *failures_section(results["summary"])]
    return "\n".join(lines)


def _image_cell(image: StoredImage | None, plain: StoredImage | None) -> dict[str, Any]:
    """One method's image of one item: its PNG, whether it equals the plain image, its adherence (or its status)."""
    if image is None or image.pixels is None:
        return {"status": "missing" if image is None else "failed"}
    identical = None if plain is None or plain.pixels is None else bool(np.array_equal(image.pixels, plain.pixels))
    return {"status": "done", "file": image.record["file"], "identical": identical,
            "colour_ok": image.record["colour_ok"], "shape_ok": image.record["shape_ok"]}


def _image_rows(items: list[ImageItem], methods: list[CalibratedMethod],
                stored: dict[str, list[StoredImage | None]]) -> list[dict[str, Any]]:
    """Per image: which it is and, per method, its PNG, whether it equals the plain image, its adherence."""
    return [{"image": item.image, "seed_index": item.seed_index, "seed": item.seed, "caption": item.caption,
             "methods": {method.label: _image_cell(stored[method.label][index], stored[PLAIN][index])
                         for method in methods}}
            for index, item in enumerate(items)]


def write_results(store: ResultStore, methods: list[CalibratedMethod], stored: dict[str, list[StoredImage | None]],
                  items: list[ImageItem], run_info: dict[str, Any]) -> dict[str, Any]:
    """Summarize every method's images (one per item or ``None``, plain first) and write results.json and
    report.md."""
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
