"""The pipeline of one process, loaded on first use, and generation with a method or a peer."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Iterator, Sequence

from mmcache.pipelines.generation import GenerationResult, run_generation
from mmcache.pipelines.loader import generation_defaults, load

from .methods import EvalMethod
from .peers import Accelerator
from .plan import EvalItem, EvalSettings

WARMUP_STEPS = 2


class Generator:
    """Loads the model once (lazily: a fully finished run never loads it) and generates items."""

    def __init__(self, settings: EvalSettings, device: str | None = None, warmup: bool = True,
                 given: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.device = device
        self.warmup = warmup
        self.given = given or {}  # flags the user set, checked against the loaded pipeline
        self._pipe: Any = None
        self._defaults = generation_defaults(settings.model)

    @property
    def pipe(self) -> Any:
        if self._pipe is None:
            self._pipe = load(self.settings.model, device=self.device, dtype=self.settings.dtype)
            self._pipe.set_progress_bar_config(disable=True)
        return self._pipe

    def _request(self, item: EvalItem, steps: int | None = None) -> Any:
        request = item.request(self.settings).with_defaults(self._defaults)
        return dataclasses.replace(request, num_inference_steps=steps) if steps else request

    def check(self, item: EvalItem) -> None:
        """Load the model and check the request against it (sizes, flags it takes, inputs it needs):
        one error for the run instead of a failure per item."""
        from mmcache.pipelines.request_checks import check_loaded

        check_loaded(self.settings.model, self.pipe, self._request(item), self.given)

    def warm_up(self, item: EvalItem, methods: Sequence[EvalMethod] = ()) -> None:
        """Short untimed runs (the baseline, then one per mmcache method name), so the first timed
        generation of each does not pay for kernel setup or a first hook attachment."""
        if not self.warmup:
            return
        run_generation(self.pipe, self._request(item, WARMUP_STEPS))
        first_of_each = {method.name: method for method in methods if method.config is not None}
        for method in first_of_each.values():
            try:
                run_generation(self.pipe, self._request(item, WARMUP_STEPS), (method.config,))
            except Exception:  # noqa: BLE001  the method's items record why it fails
                pass
        self.warmup = False

    def generate(self, item: EvalItem, method: EvalMethod | None = None,
                 accelerator: Accelerator | None = None) -> GenerationResult:
        """``item`` with ``method``'s mmcache config, or with ``accelerator`` (a peer), or plain."""
        configs = (method.config,) if method is not None and method.config is not None else ()
        return run_generation(self.pipe, self._request(item), configs, accelerator=accelerator,
                              measure_compute=self.settings.measure_compute)


@contextlib.contextmanager
def diffusers_errors_only() -> Iterator[None]:
    """Keep diffusers' warnings (e.g. FasterCache's "experimental") out of the progress display."""
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(level)
