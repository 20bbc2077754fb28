"""``mmcache eval --task vqa``: KV methods on a video-QA model against the plain model, from start to finish.

Every held-out clip (``mmcache.pipelines.vlm.data.evaluation_set``) is asked the four questions, one
greedy answer at a time, by the plain model and by every method, in one process. Everything about
the input is checked before the model loads; the output folder is locked (``folder_lock``) and holds
the results of one model (``run_config.json``, refused for other settings unless ``--force``).
PrefixKV specs without a calibration file are calibrated once per budget on clips of the training
captions (``calibration/``). Per (clip, method) a record is written as soon as it is answered
(``vqa_records``); a rerun answers only what is missing, and loads the model only then. When a
method is pending on a clip, the plain model answers it again in the same loop, for the time ratio.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .calibrated_method import CalibratedMethod
from .locked_run import run_locked
from .methods import EvalMethod
from .model_identity import vlm_weights_digest
from .model_on_demand import ModelOnDemand, check_configs
from .model_tasks import check_model_task
from .store import ResultStore
from .task_flags import DEFAULT_CALIBRATION_CLIPS, DEFAULT_CLIPS
from .vlm_answers import answer_clip, clip_examples
from .vlm_kv_methods import calibrate_prefixkv, calibration_file
from .vqa_methods import needs_calibration, resolve_vqa_methods
from .vqa_records import current_record, write_record
from .vqa_report import write_results

DEFAULT_METHODS = "prefixkv"


@dataclasses.dataclass
class VqaOptions:
    """What the command line asked for (``model`` ``None``: toy-vlm, or tiny:vlm without its weights)."""

    out: str
    model: str | None = None
    method_texts: list[str] = dataclasses.field(default_factory=lambda: [DEFAULT_METHODS])
    clips: int = DEFAULT_CLIPS
    calibration_clips: int = DEFAULT_CALIBRATION_CLIPS
    dtype: str | None = None
    device: str | None = None
    force: bool = False
    quiet: bool = False


def check_model(model: str | None) -> str:
    """The video-QA model to evaluate (one error for a missing model or a model of another task)."""
    from mmcache.pipelines.loader import available_vlms

    name = model or available_vlms()[0]
    check_model_task(name, "vqa", f"a video-QA model: {', '.join(available_vlms())} or a folder saved by "
                                  "`python -m mmcache.pipelines.vlm.train`")
    return name


def check_methods_on(model: str, pipe: Any, methods: list[EvalMethod]) -> None:
    """What needs the model: a ZipVL group size that divides its head dim, a calibration made for it."""
    from mmcache.families.registry import resolve_vlm

    target = resolve_vlm(pipe.model)
    check_configs(model, methods, lambda config: config.kv_policy(target))


def _calibrated(methods: list[EvalMethod], options: VqaOptions, model: str, store: ResultStore,
                loader: ModelOnDemand, processor: Any) -> list[CalibratedMethod]:
    """The methods to run, PrefixKV with the run's calibration (made now where the file is missing)."""
    from mmcache.pipelines.vlm.data import evaluation_set

    calibration_set = None
    runnable = []
    for method in methods:
        path = None
        if needs_calibration(method):
            path = calibration_file(store.calibration_dir, model, method.params["budget"], options.calibration_clips)
            if not path.is_file():
                if calibration_set is None:
                    calibration_set = evaluation_set(options.calibration_clips, processor.num_frames, processor.size,
                                                     "train")
                calibrate_prefixkv(loader.get(), method.params["budget"], calibration_set, path, options.quiet)
        runnable.append(CalibratedMethod(method, path))
    return runnable


def _pending(store: ResultStore, methods: list[CalibratedMethod], examples: Any, clips: int,
             records: dict[str, list[Any]]) -> dict[int, list[CalibratedMethod]]:
    """Per clip, the methods without a reusable record; ``records`` receives the reusable ones."""
    pending: dict[int, list[CalibratedMethod]] = {}
    for clip in range(clips):
        rows = clip_examples(examples, clip)
        for method in methods:
            record = current_record(store, method, clip, rows.captions[0], rows.questions)
            records[method.label][clip] = record
            if record is None:
                pending.setdefault(clip, []).append(method)
    return pending


def _answer(loader: ModelOnDemand, pending: dict[int, list[CalibratedMethod]], examples: Any,
            store: ResultStore, records: dict[str, list[Any]], quiet: bool) -> int:
    """Answer every pending (clip, method), plain model first on each clip; returns how many were answered."""
    if not pending:
        return 0
    pipe = loader.get()
    first = clip_examples(examples, next(iter(pending)))
    answer_clip(pipe, first.frames[0], first.questions[:1], None)  # the first generate pays one-off costs
    answered = 0
    with tqdm(total=len(pending), desc="mmcache eval vqa", unit="clip", disable=quiet, dynamic_ncols=True) as bar:
        for clip, methods in pending.items():
            rows = clip_examples(examples, clip)
            frames, caption, questions = rows.frames[0], rows.captions[0], rows.questions
            plain = answer_clip(pipe, frames, questions, None)
            for method in methods:
                bar.set_postfix_str(method.label, refresh=False)
                result = plain if method.config is None else answer_clip(pipe, frames, questions, method.config)
                records[method.label][clip] = write_record(store, method, clip, caption, questions, result, plain)
                answered += 1
            bar.update(1)
    return answered


def run_config(model: str, dtype: str | None) -> dict[str, Any]:
    """The identity of a vqa run: a folder holds one model's results (clips and methods may be added)."""
    return {"task": "vqa", "model": model, "model_weights": vlm_weights_digest(model), "dtype": dtype}


def run_vqa_evaluation(options: VqaOptions) -> int:
    """Evaluate; the output folder is locked from the first write until the reports are written."""
    from mmcache.validation.checks import check_device

    model = check_model(options.model)
    methods = resolve_vqa_methods(options.method_texts)
    check_device("--device", options.device)
    store = ResultStore(options.out)
    config = run_config(model, options.dtype)
    return run_locked(store, config, options.force, lambda: _evaluate(options, config, methods, store))


def _evaluate(options: VqaOptions, config: dict[str, Any], methods: list[EvalMethod], store: ResultStore) -> int:
    from mmcache.pipelines.loader import load_vlm_processor
    from mmcache.pipelines.vlm.data import evaluation_set
    from mmcache.pipelines.vlm.questions import KINDS

    model = config["model"]
    if not options.quiet:
        print(f"mmcache eval --task vqa: {model}, {options.clips} held-out clips x {len(KINDS)} questions, methods: "
              f"{', '.join(method.label for method in methods)}")
    processor = load_vlm_processor(model)
    examples = evaluation_set(options.clips, processor.num_frames, processor.size, "held_out")
    loader = ModelOnDemand(model, options.device, options.dtype, lambda pipe: check_methods_on(model, pipe, methods))
    runnable = _calibrated(methods, options, model, store, loader, processor)
    records: dict[str, list[Any]] = {method.label: [None] * options.clips for method in runnable}
    pending = _pending(store, runnable, examples, options.clips, records)
    answered = _answer(loader, pending, examples, store, records, options.quiet)
    run_info = {**config, "device": loader.device, "clips": options.clips, "calibration_clips": options.calibration_clips,
                "question_kinds": list(KINDS), "answered_this_run": answered,
                "calibrations": {method.label: method.calibration.name for method in runnable if method.calibration}}
    results = write_results(store, runnable, records, examples, run_info)
    if not options.quiet:
        _print_summary(results, store.root)
    return 0


def _print_summary(results: dict[str, Any], root: Path) -> None:
    for label, row in results["summary"].items():
        print(f"  {label}: accuracy {row['accuracy']:.1%}" + ("" if row["kind"] == "baseline" else
              f", agreement {row['agreement']:.1%}, prompt KV kept {row['prompt_kept']:.1%}, KV bytes "
              f"{row['kv_bytes']:.3f} of plain, answer time {row['time']:.2f}x"))
    print(f"wrote {root / 'results.json'}, {root / 'report.md'}")
