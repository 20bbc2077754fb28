"""One demo request: the uncached baseline (from cache when possible) and the accelerated run, compared.

Independent of Gradio, so it can be used and tested on its own; ``app.py`` wraps it in the UI.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from pathlib import Path
from typing import Any, Callable

from mmcache.methods.base import MethodConfig
from mmcache.pipelines.generation import GenerationRequest, GenerationResult, run_generation, stored_extras
from mmcache.pipelines.loader import generation_defaults

from .outputs import OutputFolder, write_viewing_video
from .plots import save_timeline_png
from .state import BaselineCache, BaselineKey, BaselineRun, LoadedModel, ModelCache
from .summary import comparison_markdown, comparison_metrics
from .validation import check_request_for_model

# what GenerationRequest's own fields cover (the rest of a model's stored settings go to ``extra``)
REQUEST_FIELDS = {"prompt", "negative_prompt", "num_inference_steps", "seed", "height", "width", "num_frames",
                  "guidance_scale", "output_type"}
# progress(phase, done, total): phase is "loading", "warm-up", "baseline", "accelerated" or "writing"
ProgressCallback = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The files and numbers one request produces."""

    baseline_video: Path
    accelerated_video: Path
    timeline_plot: Path
    summary: str
    metrics: dict[str, Any]


def stored_extra_settings(model: str, pipe: Any) -> dict[str, Any]:
    """Settings stored beside the model other than those the demo has controls for (e.g.
    ``max_sequence_length``, diffusion forcing's ``ar_step``), where the pipeline takes them."""
    accepted = inspect.signature(type(pipe).__call__).parameters
    return {key: value for key, value in stored_extras(generation_defaults(model)).items()
            if key not in REQUEST_FIELDS and key in accepted}


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    pass


class ComparisonRunner:
    """Runs comparisons on cached models, reusing baselines; safe to call from several threads."""

    def __init__(self, models: ModelCache, baselines: BaselineCache | None = None,
                 outputs: OutputFolder | None = None, fps: int = 8) -> None:
        self.models = models
        self.baselines = baselines if baselines is not None else BaselineCache()
        self.outputs = outputs if outputs is not None else OutputFolder()
        self.fps = fps

    def _warm_up(self, loaded: LoadedModel, request: GenerationRequest, progress: ProgressCallback) -> None:
        """One untimed single-step run, so the first baseline does not pay one-off start-up costs."""
        if loaded.warmed_up:
            return
        progress("warm-up", 0, 1)
        run_generation(loaded.pipe, dataclasses.replace(request, num_inference_steps=1))
        loaded.warmed_up = True

    def _baseline(self, loaded: LoadedModel, request: GenerationRequest,
                  progress: ProgressCallback) -> tuple[BaselineRun, bool]:
        key = BaselineKey.of(loaded.name, request)
        cached = self.baselines.get(key)
        if cached is not None:
            return cached, True
        result = run_generation(loaded.pipe, request, on_step=lambda step, total: progress("baseline", step, total))
        run = BaselineRun(result, write_viewing_video(result.frames, self.outputs.baseline_video(key), self.fps))
        self.baselines.put(key, run)
        return run, False

    def run(self, model: str, request: GenerationRequest, config: MethodConfig,
            progress: ProgressCallback | None = None) -> Comparison:
        """Baseline and accelerated videos of ``request`` on ``model``, the timeline plot and the numbers.

        Raises ``DemoInputError`` for settings the model cannot take, and whatever loading or the
        method raises (``ConfigError`` for a calibration that does not fit, ...).
        """
        progress = progress or _no_progress
        started = time.perf_counter()
        if model not in self.models:
            progress("loading", 0, 1)
        loaded = self.models.get(model)
        request = dataclasses.replace(request, extra={**stored_extra_settings(model, loaded.pipe), **request.extra})
        request = check_request_for_model(request, loaded.pipe, model)
        with loaded.lock:
            self._warm_up(loaded, request, progress)
            baseline, from_cache = self._baseline(loaded, request, progress)
            accelerated = run_generation(loaded.pipe, request, [config],
                                         on_step=lambda step, total: progress("accelerated", step, total))
        progress("writing", 0, 1)
        comparison = self._report(model, request, config, baseline, accelerated, from_cache)
        comparison.metrics["request_seconds"] = time.perf_counter() - started
        return comparison

    def _report(self, model: str, request: GenerationRequest, config: MethodConfig, baseline: BaselineRun,
                accelerated: GenerationResult, from_cache: bool) -> Comparison:
        folder = self.outputs.new_run()
        metrics = comparison_metrics(model, request, config, baseline.result, accelerated, from_cache)
        return Comparison(
            baseline_video=baseline.video,
            accelerated_video=write_viewing_video(accelerated.frames, folder / f"{config.method}.mp4", self.fps),
            timeline_plot=save_timeline_png(accelerated.stats, folder / "timeline.png"),
            summary=comparison_markdown(metrics),
            metrics=metrics,
        )
