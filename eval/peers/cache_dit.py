"""cache-dit (PyPI ``cache-dit``) as a peer, when that package is installed (it is optional).

``cache-dit:residual_diff_threshold=0.08,Fn_compute_blocks=8`` becomes
``cache_dit.enable_cache(pipe, cache_config=cache_dit.DBCacheConfig(...))`` (its DBCache);
``num_inference_steps`` is filled in with the run's step count when the config has that field.
Untested here: cache-dit is not installed in mmcache's test environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
from typing import Any, Iterator

from ..errors import EvalError
from .base import Accelerator, PeerRuntime

PACKAGE = "cache_dit"


@dataclasses.dataclass(frozen=True)
class CacheDiTPeer:
    name: str = "cache-dit"
    summary: str = "cache-dit's DBCache (dual block cache) through cache_dit.enable_cache"

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec(PACKAGE) is None:
            return "the cache-dit package is not installed (pip install cache-dit)"
        return None

    def _config_type(self) -> type | None:
        return getattr(importlib.import_module(PACKAGE), "DBCacheConfig", None)

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        reason = self.unavailable_reason()
        if reason:
            raise EvalError(f"{self.name} is unavailable: {reason}.")
        config_type = self._config_type()
        if config_type is not None and dataclasses.is_dataclass(config_type):
            valid = {field.name for field in dataclasses.fields(config_type)}
            unknown = sorted(set(params) - valid)
            if unknown:
                raise EvalError(f"{self.name} has no parameter(s) {unknown}; valid: {sorted(valid)}.")
        return dict(params)

    def prepare(self, params: dict[str, Any], runtime: PeerRuntime) -> dict[str, Any]:
        return dict(params)

    def accelerator(self, params: dict[str, Any], steps: int) -> Accelerator:
        @contextlib.contextmanager
        def enabled(pipe: Any) -> Iterator[None]:
            cache_dit = importlib.import_module(PACKAGE)
            config_type = self._config_type()
            if config_type is None:
                cache_dit.enable_cache(pipe, **params)
            else:
                values = dict(params)
                if "num_inference_steps" in {field.name for field in dataclasses.fields(config_type)}:
                    values.setdefault("num_inference_steps", steps)
                cache_dit.enable_cache(pipe, cache_config=config_type(**values))
            try:
                yield
            finally:
                cache_dit.disable_cache(pipe)

        return enabled


CACHE_DIT = CacheDiTPeer()
