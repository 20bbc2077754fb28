"""``mmcache eval --task vqa``: KV methods on a video-QA model against the plain model, from start to finish.

Every held-out clip (``mmcache.pipelines.vlm.data.evaluation_set``) is asked the four questions, one
greedy answer at a time, by the plain model and by every method, in one process. Everything about
the input is checked before the model loads; the output folder is locked (``folder_lock``) and holds
the results of one model (``run_config.json``, refused for other settings unless ``--force``).
PrefixKV specs without a calibration file are calibrated once per budget on clips of the training
captions (``calibration/``). Per (clip, method) a record is written as soon as it is answered, or
failed (``vqa_records``, ``plain_task_loop``); a rerun answers only what is missing (and, with
``--retry-failed``, what failed), and loads the model only then; ``--report-only`` answers nothing and
calibrates nothing. When a method is pending on a clip, the plain model answers it again in the same
loop, for the time ratio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .calibrated_method import CalibratedMethod
from .locked_run import run_locked
from .methods import EvalMethod
from .model_identity import vlm_weights_digest
from .model_on_demand import ModelOnDemand, check_configs
from .model_tasks import check_model_task
from .plain_task_loop import Stored, pending_work, run_pending
from .plain_task_outcomes import outcome_of
from .report_text import number_text
from .store import ResultStore
from .vlm_answers import answer_clip, clip_examples
from .vlm_kv_methods import calibrate_prefixkv, calibration_file
from .vqa_methods import needs_calibration, resolve_vqa_methods
from .vqa_options import VqaOptions
from .vqa_records import current_record, write_answers, write_failed
from .vqa_report import write_results


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
    """The methods to run, PrefixKV with the run's calibration (made now where the file is missing, unless
    ``--report-only``: then the method has no calibration, and no records to report)."""
    from mmcache.pipelines.vlm.data import evaluation_set

    calibration_set = None
    runnable = []
    for method in methods:
        path = None
        if needs_calibration(method):
            path = calibration_file(store.calibration_dir, model, method.params["budget"], options.calibration_clips)
            if not path.is_file() and options.report_only:
                path = None
            elif not path.is_file():
                if calibration_set is None:
                    calibration_set = evaluation_set(options.calibration_clips, processor.num_frames, processor.size,
                                                     "train")
                calibrate_prefixkv(loader.get(), method.params["budget"], calibration_set, path, options.quiet)
        runnable.append(CalibratedMethod(method, path))
    return runnable


class _ClipWork:
    """One held-out clip's questions, answered by the plain model and by each method (``plain_task_loop.ItemWork``)."""

    def __init__(self, pipe: Any, examples: Any, store: ResultStore) -> None:
        self.pipe, self.examples, self.store = pipe, examples, store

    def plain(self, clip: int) -> dict[str, Any]:
        rows = clip_examples(self.examples, clip)
        return answer_clip(self.pipe, rows.frames[0], rows.questions, None)

    def done(self, clip: int, method: CalibratedMethod, plain: dict[str, Any]) -> dict[str, Any]:
        rows = clip_examples(self.examples, clip)
        result = plain if method.config is None else answer_clip(self.pipe, rows.frames[0], rows.questions,
                                                                 method.config)
        return write_answers(self.store, method, clip, rows.captions[0], rows.questions, result, plain)

    def failed(self, clip: int, method: CalibratedMethod, error: BaseException | str) -> dict[str, Any]:
        rows = clip_examples(self.examples, clip)
        return write_failed(self.store, method, clip, rows.captions[0], rows.questions, error)


def _answer(loader: ModelOnDemand, pending: dict[int, list[CalibratedMethod]], examples: Any,
            store: ResultStore, records: Stored, quiet: bool) -> int:
    """Answer every pending (clip, method), plain model first on each clip; returns how many records were written."""
    if not pending:
        return 0
    pipe = loader.get()
    first = clip_examples(examples, next(iter(pending)))
    try:
        answer_clip(pipe, first.frames[0], first.questions[:1], None)  # the first generate pays one-off costs
    except Exception:  # noqa: BLE001 - the same call fails again in the loop, which records it on that clip
        pass
    return run_pending(_ClipWork(pipe, examples, store), pending, records, "mmcache eval vqa", "clip", quiet)


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
    if not options.quiet and not options.report_only:
        print(f"mmcache eval --task vqa: {model}, {options.clips} held-out clips x {len(KINDS)} questions, methods: "
              f"{', '.join(method.label for method in methods)}")
    processor = load_vlm_processor(model)
    examples = evaluation_set(options.clips, processor.num_frames, processor.size, "held_out")
    loader = ModelOnDemand(model, options.device, options.dtype, lambda pipe: check_methods_on(model, pipe, methods))
    runnable = _calibrated(methods, options, model, store, loader, processor)
    records: Stored = {method.label: [None] * options.clips for method in runnable}

    def current(clip: int, method: CalibratedMethod) -> dict[str, Any] | None:
        rows = clip_examples(examples, clip)
        return current_record(store, method, clip, rows.captions[0], rows.questions, options.retry_failed)

    pending = pending_work(options.clips, runnable, current, records)
    answered = 0 if options.report_only else _answer(loader, pending, examples, store, records, options.quiet)
    device = None if options.report_only else loader.device  # a report alone ran on no device
    run_info = {**config, "device": device, "clips": options.clips, "calibration_clips": options.calibration_clips,
                "question_kinds": list(KINDS), "answered_this_run": answered,
                "calibrations": {method.label: method.calibration.name for method in runnable if method.calibration}}
    results = write_results(store, runnable, records, examples, run_info)
    if not options.quiet:
        _print_summary(results, store.root)
    return 0


def _print_summary(results: dict[str, Any], root: Path) -> None:
    for label, row in results["summary"].items():
        print(f"  {label}: clips {outcome_of(row)}, accuracy {number_text(row['accuracy'], '.1%')}"
              + ("" if row["kind"] == "baseline" else
                 f", agreement {number_text(row['agreement'], '.1%')}, prompt KV kept "
                 f"{number_text(row['prompt_kept'], '.1%')}, KV bytes {number_text(row['kv_bytes'], '.3f')} of plain, "
                 f"answer time {number_text(row['time'], '.2f', 'x')}"))
    print(f"wrote {root / 'results.json'}, {root / 'report.md'}")
