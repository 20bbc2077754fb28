"""One evaluation from start to finish: check the input, generate this process's share, merge, report."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from mmcache.files import atomic_write_json

from .distributed import ProcessInfo, current_process, hardware_name
from .errors import EvalError
from .folder_lock import FolderLock
from .generator import Generator
from .methods import resolve_methods
from .metrics.suite import MetricSuite
from .model_tasks import WHAT_IT_DOES
from .plan import EvalItem, EvalSettings, build_items, run_config
from .prompts import load_prompts
from .results import VBenchRequest, write_results
from .job import EvalJob
from .runner import run_process
from .store import ResultStore
from .vbench_runner import DEFAULT_DIMENSIONS


@dataclasses.dataclass
class EvalOptions:
    """What the command line asked for (``None``: the model's default, where there is one)."""

    out: str
    model: str | None = None
    method_texts: list[str] = dataclasses.field(default_factory=lambda: ["easycache"])
    prompts: str = "builtin"
    limit_prompts: int | None = None
    seeds: tuple[int, ...] = (0,)
    steps: int | None = None
    height: int | None = None
    width: int | None = None
    num_frames: int | None = None
    guidance_scale: float | None = None
    negative_prompt: str | None = None
    dtype: str | None = None
    measure_compute: bool = False
    device: str | None = None
    fps: int = 8
    vbench: bool = True
    vbench_dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS
    force: bool = False
    retry_failed: bool = False
    report_only: bool = False
    warmup_run: bool = True
    quiet: bool = False
    on_record: Callable[[str, EvalItem, dict[str, Any]], None] | None = None


def resolve_settings(options: EvalOptions) -> EvalSettings:
    """Settings with the model's recommended values (``mmcache_defaults.json``) where none was given."""
    from mmcache.pipelines.loader import default_model, generation_defaults

    model = options.model or default_model()
    defaults = generation_defaults(model)
    pick = lambda given, key: given if given is not None else defaults.get(key)  # noqa: E731
    return EvalSettings(model=model, steps=options.steps or int(defaults.get("num_inference_steps") or 50),
                        height=pick(options.height, "height"), width=pick(options.width, "width"),
                        num_frames=pick(options.num_frames, "num_frames"),
                        guidance_scale=pick(options.guidance_scale, "guidance_scale"),
                        negative_prompt=pick(options.negative_prompt, "negative_prompt"), dtype=options.dtype,
                        measure_compute=options.measure_compute)


def given_flags(options: EvalOptions) -> dict[str, Any]:
    """The generation settings the user gave, by flag (``None``: left to the model)."""
    return {"--steps": options.steps, "--height": options.height, "--width": options.width,
            "--frames": options.num_frames, "--guidance-scale": options.guidance_scale,
            "--negative-prompt": options.negative_prompt}


def _refuse_image_model(model: str | None) -> None:
    """A next-scale-prediction model makes images: one error pointing to ``--task image``."""
    from mmcache.pipelines.loader import is_next_scale

    if model is not None and is_next_scale(model):
        raise EvalError(f"--model {model} {WHAT_IT_DOES['image']}; --task video evaluates video generators (evaluate "
                        "it with --task image).")


def _check_before_loading(options: EvalOptions, settings: EvalSettings, items: list[EvalItem]) -> None:
    from mmcache.validation.checks import check_device
    from mmcache.pipelines.request_checks import check_model_and_size
    from mmcache.pipelines.loader import generation_defaults

    check_device("--device", options.device)
    check_model_and_size(settings.model, items[0].request(settings).with_defaults(generation_defaults(settings.model)))


def _prepare_folder(store: ResultStore, lock: FolderLock | None, config: dict[str, Any], prompts: tuple[str, ...],
                    items: list[EvalItem], options: EvalOptions, process: ProcessInfo) -> None:
    if process.is_main and lock is not None:
        store.check_writable()
        lock.acquire()
        store.adopt_run_config(config, options.force)
        stems = {item.prompt: item.stem for item in items}
        atomic_write_json(store.root / "prompts.json", [{"prompt": p, "file_stem": stems[p]} for p in prompts])
    process.wait_for_everyone()


def run_evaluation(options: EvalOptions) -> int:
    """Run (this process's share of) the evaluation; the main process writes the merged results.

    Everything about the input is checked before the model loads; the main process holds the
    output folder's lock (``folder_lock``) from then until it has written the results.
    """
    methods = resolve_methods(options.method_texts)
    _refuse_image_model(options.model)
    prompt_set = load_prompts(options.prompts, options.limit_prompts)
    settings = resolve_settings(options)
    items = build_items(prompt_set.prompts, options.seeds, settings)
    _check_before_loading(options, settings, items)
    process = current_process(options.device)
    store = ResultStore(options.out)
    lock = FolderLock(store.root) if process.is_main else None
    try:
        return _evaluate(options, methods, prompt_set, settings, items, process, store, lock)
    finally:
        if lock is not None:
            lock.release()


def _evaluate(options: EvalOptions, methods: list[Any], prompt_set: Any, settings: EvalSettings,
              items: list[EvalItem], process: ProcessInfo, store: ResultStore, lock: FolderLock | None) -> int:
    config = run_config(settings, prompt_set.prompts, options.seeds)
    _prepare_folder(store, lock, config, prompt_set.prompts, items, options, process)
    job = EvalJob(settings, items, methods, store, fps=options.fps, retry_failed=options.retry_failed,
                  show_progress=process.is_main and not options.quiet, on_record=options.on_record)
    metrics = MetricSuite(device=process.device or "cpu", fps=options.fps)
    generated = 0
    if not options.report_only:
        if process.is_main and not options.quiet:
            print(f"mmcache eval: {settings.model}, {settings.steps} steps, {len(prompt_set.prompts)} prompts x "
                  f"{len(options.seeds)} seeds, methods: {', '.join(m.label for m in methods)}"
                  + (f", {process.count} processes" if process.count > 1 else ""))
        generator = Generator(settings, process.device, options.warmup_run, given_flags(options))
        generated = run_process(job, process, generator, metrics)
    process.wait_for_everyone()
    if not process.is_main:
        return 0
    run_info = {**config, "prompt_source": prompt_set.source, "fps": options.fps, "processes": process.count,
                "device": process.device, "hardware": hardware_name(process.device),
                "generated_this_run": generated}
    results = write_results(job, run_info, metrics.availability(),
                            VBenchRequest(options.vbench, options.vbench_dimensions))
    if not options.quiet:
        _print_summary(results, store)
    return 0


def _print_summary(results: dict[str, Any], store: ResultStore) -> None:
    for label, summary in results["summary"].items():
        speedup = summary["speedup_wall"]
        psnr = summary["psnr_db"]
        print(f"  {label}: {summary['done']}/{summary['items']} done"
              + (f", {summary['failed']} failed" if summary["failed"] else "")
              + (f", speedup {speedup:.2f}x" if speedup is not None and label != "baseline" else "")
              + (f", PSNR {psnr:.2f} dB" if psnr is not None else ""))
    print(f"wrote {store.root / 'results.json'}, {store.root / 'report.md'}, {store.root / 'pareto.png'}")
