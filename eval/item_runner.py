"""One item: the baseline, then each pending method, each ending in a video and a record.

For each item the uncached baseline runs first, then every method with the same seed; each
finished generation writes its video, then its record, so an interrupted run loses nothing that
finished and a rerun skips it. A method that fails (a peer that does not support the model, say)
gets a ``failed`` record with the reason, and the run goes on. When a method is pending for an
item whose baseline finished in an earlier run, the baseline is generated again for the
comparison only (not re-timed; ``baseline_regenerated`` in the record says so).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from mmcache.video import write_mp4

from .distributed import ProcessInfo
from .generator import Generator
from .job import EvalJob
from .methods import BASELINE, EvalMethod
from .metrics.suite import MetricSuite
from .peers import PEERS
from .plan import EvalItem
from .records import done_record, failed_record, frames_digest


class ItemRunner:
    """Runs the pending methods of one item and writes their videos and records."""

    def __init__(self, job: EvalJob, generator: Generator, metrics: MetricSuite, process: ProcessInfo,
                 prepared: dict[str, Any]) -> None:
        self.job, self.generator, self.metrics, self.process, self.prepared = job, generator, metrics, process, prepared

    def _save(self, method: EvalMethod, item: EvalItem, record: dict[str, Any]) -> None:
        self.job.store.write_record(method.label, item, record)
        if self.job.on_record is not None:
            self.job.on_record(method.label, item, record)

    def _finish(self, method: EvalMethod, item: EvalItem, result: Any, baseline: np.ndarray | None,
                extra: dict[str, Any] | None = None) -> None:
        path = self.job.store.video_path(method.label, item)
        write_mp4(result.frames, path, fps=self.job.fps)
        metrics = self.metrics.video_scores(result.frames, path, item.prompt)
        if baseline is not None:
            metrics.update(self.metrics.fidelity(result.frames, baseline))
        record = done_record(method, item, self.process, result, self.job.store.relative(path), metrics, extra,
                             video_bytes=path.stat().st_size)
        self._save(method, item, record)

    def _baseline(self, item: EvalItem, method: EvalMethod) -> np.ndarray | None:
        try:
            result = self.generator.generate(item)
        except Exception as error:
            self._save(method, item, failed_record(method, item, self.process, error))
            return None
        self._finish(method, item, result, None)
        return result.frames

    def _regenerated_baseline(self, item: EvalItem) -> tuple[np.ndarray | None, dict[str, Any]]:
        stored = self.job.store.read_record(BASELINE, item)
        if stored is None or stored.get("status") != "done":
            return None, {"error": (stored or {}).get("error", "no baseline")}
        try:
            frames = self.generator.generate(item).frames
        except Exception as error:
            return None, {"error": f"regenerating it failed: {type(error).__name__}: {error}"}
        return frames, {"baseline_regenerated": True,
                        "baseline_identical": frames_digest(frames) == stored.get("frames_sha256")}

    def _method(self, item: EvalItem, method: EvalMethod, baseline: np.ndarray, extra: dict[str, Any]) -> None:
        accelerator = None
        if method.kind == "peer":
            prepared = self.prepared.get(method.label)
            if isinstance(prepared, Exception):
                self._save(method, item, failed_record(method, item, self.process, prepared))
                return
            accelerator = PEERS[method.name].accelerator(prepared, self.job.settings.steps)
        try:
            result = self.generator.generate(item, method, accelerator)
        except Exception as error:
            where = f"{method.name} on {type(self.generator.pipe).__name__}: "
            self._save(method, item, failed_record(method, item, self.process, error, where))
            return
        self._finish(method, item, result, baseline, extra)

    def run(self, item: EvalItem, methods: list[EvalMethod], advance: Callable[[str], None]) -> None:
        baseline, extra = None, {}
        for method in methods:
            if method.name == BASELINE:
                baseline = self._baseline(item, method)
                advance(method.label)
                continue
            if baseline is None and not extra:
                baseline, extra = self._regenerated_baseline(item)
            if baseline is None:
                reason = f"the baseline of this item failed ({extra.get('error')})"
                self._save(method, item, failed_record(method, item, self.process, reason))
            else:
                self._method(item, method, baseline, extra)
            advance(method.label)
