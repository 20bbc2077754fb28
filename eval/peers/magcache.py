"""diffusers' MagCache as a peer: its per-model magnitude ratios come from a calibration run.

``mag_ratios`` may be ``auto`` (default: calibrate once per output folder with diffusers' own
calibration mode on the first prompt and seed, without skipping, and keep the result in
``calibration/diffusers-magcache.json``), ``flux`` (diffusers' published Flux ratios), a list
of numbers, or the path of a JSON file holding such a list (or ``{"mag_ratios": [...]}``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any, Iterator

from mmcache.files import atomic_write_json

from ..errors import EvalError
from .base import PeerRuntime
from .denoisers import pipeline_denoisers
from .diffusers_caches import DiffusersCachePeer
from .magcache_calibration import captured_calibration_ratios

AUTO = "auto"
CALIBRATION_FILE = "diffusers-magcache.json"


def _ratios_from_file(path: Path) -> list[float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise EvalError(f"diffusers-magcache: cannot read mag_ratios from {path}: {error}") from error
    ratios = data.get("mag_ratios") if isinstance(data, dict) else data
    if not isinstance(ratios, list) or not ratios or not all(isinstance(x, (int, float)) for x in ratios):
        raise EvalError(f"diffusers-magcache: {path} must hold a list of numbers (or {{\"mag_ratios\": [...]}}).")
    return [float(x) for x in ratios]


@dataclasses.dataclass(frozen=True)
class MagCachePeer(DiffusersCachePeer):
    """MagCache with ratios calibrated on the evaluated model (or given)."""

    def reserved_params(self) -> tuple[str, ...]:
        return ("mag_ratios", "calibrate")

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        params = dict(params)
        ratios = params.pop("mag_ratios", AUTO)
        if "calibrate" in params:
            raise EvalError("diffusers-magcache: calibrate is set by mmcache eval (use mag_ratios=auto).")
        checked = super().check_params(params)
        if isinstance(ratios, list):
            if not ratios or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in ratios):
                raise EvalError("diffusers-magcache: mag_ratios must be a list of numbers.")
        elif ratios not in (AUTO, "flux"):
            if not Path(str(ratios)).is_file():
                raise EvalError(f"diffusers-magcache: mag_ratios={ratios!r} is not auto, flux, a list, or an "
                                "existing JSON file.")
            ratios = str(Path(str(ratios)).resolve())
        return {**checked, "mag_ratios": ratios}

    def prepare(self, params: dict[str, Any], runtime: PeerRuntime) -> dict[str, Any]:
        ratios = params["mag_ratios"]
        if ratios == "flux":
            from diffusers.hooks.mag_cache import FLUX_MAG_RATIOS

            ratios = [float(x) for x in FLUX_MAG_RATIOS]
        elif ratios == AUTO:
            ratios = self._calibrated(runtime)
        elif isinstance(ratios, str):
            ratios = _ratios_from_file(Path(ratios))
        return {**params, "mag_ratios": ratios}

    def _calibrated(self, runtime: PeerRuntime) -> list[float]:
        file = runtime.calibration_dir / CALIBRATION_FILE
        if file.is_file():
            data = json.loads(file.read_text())
            if data.get("model") == runtime.model and data.get("steps") == runtime.steps:
                return [float(x) for x in data["mag_ratios"]]
        if not runtime.may_compute:
            raise EvalError(f"diffusers-magcache: no calibration in {file} (the main process makes it).")
        config = self.config_type()(calibrate=True, num_inference_steps=runtime.steps)

        @contextlib.contextmanager
        def calibrating(pipe: Any) -> Iterator[None]:
            module = pipeline_denoisers(pipe)[0]
            module.enable_cache(config)
            try:
                yield
            finally:
                module.disable_cache()

        with captured_calibration_ratios() as per_branch:
            runtime.calibration_run(calibrating)
        if not per_branch:
            raise EvalError("diffusers-magcache: the calibration run reported no ratios (does the model have a "
                            "transformer block stack diffusers' MagCache recognises?).")
        ratios = [sum(values) / len(values) for values in zip(*per_branch)]
        atomic_write_json(file, {"model": runtime.model, "steps": runtime.steps, "mag_ratios": ratios,
                                 "per_branch": per_branch,
                                 "how": "diffusers MagCacheConfig(calibrate=True), first prompt and seed, "
                                        "mean over CFG branches"})
        return ratios

    def build_config(self, params: dict[str, Any], steps: int, current_timestep: Any) -> Any:
        values = dict(params)
        ratios = values.pop("mag_ratios", None)
        if not isinstance(ratios, list):  # checked but not prepared yet: validate the other fields only
            return super().build_config({**values, "calibrate": True}, steps, current_timestep)
        return super().build_config({**values, "mag_ratios": ratios}, steps, current_timestep)


MAGCACHE = MagCachePeer("diffusers-magcache", "MagCacheConfig",
                        "MagCache: skip the block stack while the accumulated residual-magnitude ratio error is small")
