"""cache-dit (PyPI ``cache-dit``, the ``eval`` extra) as a peer: its DBCache, optionally calibrated.

``cache-dit:Fn_compute_blocks=1,Bn_compute_blocks=0,residual_diff_threshold=0.1,max_warmup_steps=5``
becomes ``cache_dit.enable_cache(pipe, cache_config=cache_dit.DBCacheConfig(...))``: the first
``Fn`` blocks always run, and while their residual changes less than the threshold the middle
blocks are skipped and their cached residual added (the last ``Bn`` blocks run again).
``calibrator=taylorseer`` adds ``calibrator_config=cache_dit.TaylorSeerCalibratorConfig(...)``,
which forecasts the skipped residual instead of reusing it; fields of that config (such as
``taylorseer_order=2``) may be given beside it. ``num_inference_steps`` defaults to the run's steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import os
from typing import Any, Iterator

from ..errors import EvalError
from .base import Accelerator, PeerRuntime
from .config_fields import coerce_params, settable_fields
from .denoisers import pipeline_denoisers

PACKAGE = "cache_dit"
CALIBRATOR = "calibrator"
CALIBRATOR_CONFIGS = {"taylorseer": "TaylorSeerCalibratorConfig", "foca": "FoCaCalibratorConfig",
                      "dmd": "DMDCalibratorConfig"}
# Set by the peer itself: the cache type is DBCache, the calibrator type follows ``calibrator=``.
RESERVED = ("cache_type", "calibrator_type")


def _package() -> Any:
    # It logs each enable and disable (and, under mmcache's observation hook, a skipped pattern check) at
    # info and warning level: one evaluation would print them for every item. Errors still show.
    os.environ.setdefault("CACHE_DIT_LOG_LEVEL", "error")
    return importlib.import_module(PACKAGE)


def split_params(params: dict[str, Any]) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """``params`` → (DBCacheConfig fields, calibrator name or None, calibrator config fields)."""
    cache = dict(params)
    calibrator = cache.pop(CALIBRATOR, None)
    cache_fields = {field.name for field in dataclasses.fields(_package().DBCacheConfig)}
    calibrator_values = {name: cache.pop(name) for name in list(cache) if name not in cache_fields}
    return cache, calibrator, calibrator_values


@dataclasses.dataclass(frozen=True)
class CacheDiTPeer:
    name: str = "cache-dit"
    summary: str = "cache-dit's DBCache (first Fn blocks decide, middle blocks reused), optional TaylorSeer calibrator"

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec(PACKAGE) is None:
            return 'the cache-dit package is not installed (pip install "mmcache[eval]")'
        return None

    def _calibrator_type(self, calibrator: Any) -> type:
        known = {name: config for name, config in CALIBRATOR_CONFIGS.items() if hasattr(_package(), config)}
        if calibrator not in known:
            raise EvalError(f"{self.name}: calibrator must be one of {sorted(known)}, got {calibrator!r}.")
        return getattr(_package(), known[calibrator])

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        reason = self.unavailable_reason()
        if reason:
            raise EvalError(f"{self.name} is unavailable: {reason}.")
        cache, calibrator, calibrator_values = split_params(params)
        checked = coerce_params(self.name, _package().DBCacheConfig, cache, RESERVED)
        calibrator_type = None if calibrator is None else self._calibrator_type(calibrator)
        valid = set(settable_fields(calibrator_type)) - set(RESERVED) if calibrator_type else set()
        unknown = sorted(set(calibrator_values) - valid)
        if unknown:
            cache_fields = sorted(set(settable_fields(_package().DBCacheConfig)) - set(RESERVED))
            raise EvalError(f"{self.name} has no parameter(s) {unknown}; valid: {cache_fields}, {CALIBRATOR}="
                            f"{'|'.join(CALIBRATOR_CONFIGS)} and, beside a calibrator, the fields of its config"
                            + (f" ({sorted(valid)})." if valid else "."))
        if calibrator_type is None:
            return checked
        calibrator_checked = coerce_params(f"{self.name} calibrator={calibrator}", calibrator_type,
                                           calibrator_values, RESERVED)
        return {**checked, CALIBRATOR: calibrator, **calibrator_checked}

    def prepare(self, params: dict[str, Any], runtime: PeerRuntime) -> dict[str, Any]:
        return dict(params)

    def configs(self, params: dict[str, Any], steps: int) -> dict[str, Any]:
        """The keyword arguments of ``cache_dit.enable_cache`` besides the pipeline."""
        cache, calibrator, calibrator_values = split_params(params)
        cache.setdefault("num_inference_steps", steps)
        arguments = {"cache_config": _package().DBCacheConfig(**cache)}
        if calibrator is not None:
            arguments["calibrator_config"] = self._calibrator_type(calibrator)(**calibrator_values)
        return arguments

    def accelerator(self, params: dict[str, Any], steps: int) -> Accelerator:
        @contextlib.contextmanager
        def enabled(pipe: Any) -> Iterator[None]:
            cache_dit = _package()
            forwards = _instance_forwards(pipeline_denoisers(pipe))
            cache_dit.enable_cache(pipe, **self.configs(params, steps))
            try:
                yield
            finally:
                _restore_forwards(forwards)
                cache_dit.disable_cache(pipe)

        return enabled


_CLASS_FORWARD = object()


def _instance_forwards(modules: list[Any]) -> list[tuple[Any, Any]]:
    """Each denoiser with the ``forward`` set on the instance (a diffusers hook's), or a marker for none."""
    return [(module, module.__dict__.get("forward", _CLASS_FORWARD)) for module in modules]


def _restore_forwards(forwards: list[tuple[Any, Any]]) -> None:
    """Put back the denoisers' forwards before ``disable_cache`` runs.

    cache-dit rebinds the forward it replaced with ``__get__``, which fails when that forward was
    a diffusers hook (``functools.partial``), as it is under mmcache's observation in evaluations.
    """
    for module, forward in forwards:
        module.__dict__.pop("_original_forward", None)
        if forward is _CLASS_FORWARD:
            module.__dict__.pop("forward", None)
        else:
            module.forward = forward


CACHE_DIT = CacheDiTPeer()
