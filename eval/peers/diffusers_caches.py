"""diffusers' own caches (``transformer.enable_cache(config)``) as peers: FBC, TaylorSeer, PAB, ...

Each peer maps its command-line parameters onto the fields of one diffusers config dataclass;
fields that diffusers needs at run time are filled in here: ``current_timestep_callback``
(PAB, FasterCache) reads ``pipe.current_timestep``, ``num_inference_steps`` (MagCache) is the run's
step count. Whether a config fits a model is only known when it is enabled: a peer that does
not support the model fails that item (recorded with diffusers' message) instead of the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from typing import Any, Iterator

from ..errors import EvalError
from .base import Accelerator, PeerRuntime
from .config_fields import coerce_params
from .denoisers import pipeline_denoisers

RUNTIME_FIELDS = ("current_timestep_callback", "num_inference_steps")


@dataclasses.dataclass(frozen=True)
class DiffusersCachePeer:
    """One of diffusers' cache configs (``diffusers.hooks.<config_class>``) as a peer."""

    name: str
    config_class: str
    summary: str

    def config_type(self) -> type:
        return getattr(importlib.import_module("diffusers.hooks"), self.config_class)

    def unavailable_reason(self) -> str | None:
        try:
            self.config_type()
        except (ImportError, AttributeError):
            return f"this diffusers version has no {self.config_class} (diffusers >= 0.42 has it)"
        return None

    def reserved_params(self) -> tuple[str, ...]:
        return ()

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        reason = self.unavailable_reason()
        if reason:
            raise EvalError(f"{self.name} is unavailable: {reason}.")
        coerced = coerce_params(self.name, self.config_type(), params, self.reserved_params())
        self.build_config(coerced, steps=50, current_timestep=lambda: 0)  # let diffusers validate the values
        return coerced

    def prepare(self, params: dict[str, Any], runtime: PeerRuntime) -> dict[str, Any]:
        return dict(params)

    def build_config(self, params: dict[str, Any], steps: int, current_timestep: Any) -> Any:
        """The diffusers config for one denoiser, run-time fields filled in."""
        config_type = self.config_type()
        names = {field.name for field in dataclasses.fields(config_type)}
        values = dict(params)
        if "current_timestep_callback" in names:
            values["current_timestep_callback"] = current_timestep
        if "num_inference_steps" in names:
            values.setdefault("num_inference_steps", steps)
        try:
            return config_type(**values)
        except (TypeError, ValueError) as error:
            raise EvalError(f"{self.name}: {error}") from error

    def accelerator(self, params: dict[str, Any], steps: int) -> Accelerator:
        @contextlib.contextmanager
        def enabled(pipe: Any) -> Iterator[None]:
            def current_timestep() -> Any:
                return pipe.current_timestep

            denoisers = pipeline_denoisers(pipe)
            done = []
            try:
                for module in denoisers:
                    module.enable_cache(self.build_config(params, steps, current_timestep))
                    done.append(module)
                yield
            finally:
                for module in done:
                    module.disable_cache()

        return enabled


FIRST_BLOCK_CACHE = DiffusersCachePeer(
    "diffusers-fbc", "FirstBlockCacheConfig",
    "First Block Cache: skip the other blocks while the first block's residual barely changes")
TAYLORSEER = DiffusersCachePeer(
    "diffusers-taylorseer", "TaylorSeerCacheConfig",
    "TaylorSeer: forecast module outputs with a Taylor series between full steps")
PYRAMID_ATTENTION_BROADCAST = DiffusersCachePeer(
    "diffusers-pab", "PyramidAttentionBroadcastConfig", "Pyramid Attention Broadcast: reuse attention outputs")
FASTERCACHE = DiffusersCachePeer(
    "diffusers-fastercache", "FasterCacheConfig", "FasterCache: reuse attention and the unconditional CFG branch")
SEACACHE = DiffusersCachePeer(
    "diffusers-seacache", "SeaCacheConfig",
    "SeaCache: reuse the block-stack residual while spectral-evolution indicators change little")
