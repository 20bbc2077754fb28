"""ERTACache (Peng et al., ByteDance, arXiv 2508.21091): calibrated reuse with error rectification and timestep adjustment.

At run time, on the steps of the calibrated global schedule S each branch reuses the residual of
its last computed step, v_tilde = x_i + (v_j - x_j). Two corrections follow:

* rectification: v_hat = v_tilde - (K_i * v_tilde + B_i), the closed-form (least-squares) model of
  the cache error fitted offline per step and branch (per latent channel by default);
* timestep adjustment: a reused step travels only phi_i of its Euler step on the sigma grid, and
  the rest of the trajectory is rescaled so that it still ends at sigma = 0. With
  sigma'_i = c_i * sigma_i, a computed step is called at timestep c_i * t_i and returns c_i * v
  (an Euler step of c_i * dsigma_i), a reused step returns phi_i * c_i * v_hat, and
  c_{i+1} = (c_i sigma_i + phi_i c_i dsigma_i) / sigma_{i+1}. phi is fitted on the prediction the
  run actually uses: rectified when rectification is on, plain reuse when it is off.

Deviations from the paper: the schedule is the greedy relative-L1 walk averaged over calibration
prompts; phi uses ||v_hat - v||_1 / ||v||_1; the sigmoid error model is fitted in its linearized
(affine) form, per channel; the last step is always computed; timestep adjustment is implemented
for flow-matching Euler samplers only (by rescaling the velocity and the timestep the denoiser
sees), other samplers use the other two parts. The offline fit lives in
``mmcache.calibration.ertacache_fit``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar

import torch

from ..calibration.file import Calibration, CalibrationMismatchError
from ..context import DenoiserCall, state_name
from ..errors import ConfigError
from ..runtime.tracker import RunTracker
from .base import CachedResidual, Decision, MethodConfig, StepPolicy, require

EULER_FLOW_SCHEDULERS = ("FlowMatchEulerDiscreteScheduler",)


def supports_time_adjustment(pipeline: Any) -> bool:
    """Timestep adjustment rescales Euler steps on the sigma grid: it needs a flow-matching Euler sampler."""
    scheduler = getattr(pipeline, "scheduler", None)
    names = [cls.__name__ for cls in type(scheduler).__mro__]
    return any(name in EULER_FLOW_SCHEDULERS for name in names) and not getattr(
        getattr(scheduler, "config", None), "stochastic_sampling", False)


def apply_rectification(predicted: torch.Tensor, slope: torch.Tensor, intercept: torch.Tensor,
                        channel_dim: int) -> torch.Tensor:
    """``v_hat = v_tilde - (K * v_tilde + B)`` with per-channel (or scalar) K and B."""
    shape = [1] * predicted.ndim
    if slope.numel() > 1:
        shape[channel_dim] = slope.numel()
    k, b = slope.reshape(shape).to(predicted), intercept.reshape(shape).to(predicted)
    return predicted - (k * predicted + b)


def trajectory_scales(sigmas: list[float], reuse_steps: set[int], time_scale: dict[int, float]) -> list[float]:
    """c_i for every step: how much the remaining sigma schedule is stretched after shortened steps."""
    scales, c = [], 1.0
    for i in range(len(sigmas) - 1):
        scales.append(c)
        sigma, following = sigmas[i], sigmas[i + 1]
        phi = time_scale.get(i, 1.0) if i in reuse_steps else 1.0
        if following > 0:
            c = (c * sigma + phi * c * (following - sigma)) / following
    return scales


@dataclasses.dataclass
class ERTACacheConfig(MethodConfig):
    """ERTACache: reuse the cached residual on the calibrated steps, rectify it, adjust the timesteps.

    Args:
        calibration: a calibration file written by ``mmcache calibrate`` (or ``Calibration.save``),
            or a ``Calibration`` object.
        rectification: subtract the fitted cache-error model on reused steps.
        time_adjustment: shorten reused Euler steps by the calibrated factor phi and hand the
            remaining time to the later steps. ``None``: on when the calibration has phi (it has
            them only for flow-matching Euler samplers); ``True`` on another sampler is an error.
    """

    method: ClassVar[str] = "ertacache"
    role: ClassVar[str] = "step"

    calibration: Any = None
    rectification: bool = True
    time_adjustment: bool | None = None

    def validate(self) -> None:
        require(self.calibration is not None,
                "ERTACacheConfig needs calibration=<file written by `mmcache calibrate`>.")
        if isinstance(self.calibration, (str, os.PathLike)):
            loaded = Calibration.load(self.calibration)
        elif isinstance(self.calibration, dict):
            loaded = Calibration.from_dict(self.calibration)
        else:
            require(isinstance(self.calibration, Calibration),
                    f"ERTACacheConfig.calibration must be a file path or a Calibration, got "
                    f"{type(self.calibration).__name__}.")
            loaded = self.calibration
        require(loaded.method == "ertacache", f"The calibration is for {loaded.method!r}, not ertacache.")
        require(isinstance(self.rectification, bool), "ERTACacheConfig.rectification must be True or False.")
        require(self.time_adjustment in (None, True, False), "ERTACacheConfig.time_adjustment must be None/True/False.")
        if self.time_adjustment and not loaded.time_scale and loaded.reuse_steps:
            require(False, "time_adjustment=True needs a calibration made with a flow-matching Euler scheduler "
                           "(FlowMatchEulerDiscreteScheduler); this one has no timestep-adjustment terms. "
                           "Use time_adjustment=None or False, or recalibrate with an Euler scheduler.")
        self.loaded = loaded

    @property
    def uses_time_adjustment(self) -> bool:
        return bool(self.loaded.time_scale) if self.time_adjustment is None else bool(self.time_adjustment)

    def policy(self, tracker: RunTracker) -> "ERTACachePolicy":
        return ERTACachePolicy(self, tracker)

    def to_dict(self) -> dict[str, Any]:
        calibration = self.calibration
        if not isinstance(calibration, (str, os.PathLike)):
            calibration = self.loaded.to_dict()
        return {"method": self.method, "calibration": os.fspath(calibration) if isinstance(calibration, os.PathLike)
                else calibration, "rectification": self.rectification, "time_adjustment": self.time_adjustment}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ERTACacheConfig) and self.to_dict() == other.to_dict()


class ERTACachePolicy(StepPolicy):
    """Calibrated reuse with rectification and timestep adjustment; see the module docstring."""

    method = "ertacache"

    def __init__(self, config: ERTACacheConfig, tracker: RunTracker) -> None:
        self.config = config
        self.calibration: Calibration = config.loaded
        self.reuse_steps = frozenset(self.calibration.reuse_steps)
        self.time_adjustment = config.uses_time_adjustment
        self.time_scale = self.calibration.phi(rectified=config.rectification)
        self._terms: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = {}
        super().__init__(tracker)

    def attach(self, target: Any) -> None:
        if target.adapter.window_planner is not None:
            raise ConfigError(
                f"ERTACache's calibrated schedule is one denoising loop per call; the {target.adapter.name} family runs "
                "one per window or chunk of frames. Use FlowCacheConfig (or EasyCacheConfig) on it."
            )
        self.calibration.check_target(target.pipeline, target.denoisers)
        self.channel_dim = target.adapter.channel_dim
        if self.time_adjustment and (target.pipeline is None or not supports_time_adjustment(target.pipeline)):
            raise ConfigError(
                "ERTACache's timestep adjustment needs the pipeline (not a bare denoiser) with a flow-matching "
                "Euler scheduler (FlowMatchEulerDiscreteScheduler); pass time_adjustment=False otherwise."
            )

    def start_run(self) -> None:
        self._cached: dict[tuple[int, str], CachedResidual] = {}
        self._scales: list[float] | None = None
        self._checked: set[str] = set()
        self._first_step_branches: set[str] = set()
        self._branches_checked = False

    # -- per forward ----------------------------------------------------------------------------
    def _check(self, call: DenoiserCall) -> str:
        key = state_name(call.state_key)
        if call.info.step == 0:
            self._first_step_branches.add(key)
        elif not self._branches_checked:
            self.calibration.check_branches(self._first_step_branches)
            self._branches_checked = True
        if key not in self._checked:
            self.calibration.check_run(self.tracker.num_steps, key, tuple(call.latent.shape))
            self._checked.add(key)
        return key

    def _scale(self, step: int) -> float:
        if not self.time_adjustment:
            return 1.0
        if self._scales is None:
            sigmas = [float(s) for s in self.tracker.pipeline.scheduler.sigmas]
            if len(sigmas) != self.calibration.num_steps + 1:
                raise CalibrationMismatchError(
                    f"The scheduler has {len(sigmas) - 1} sigma steps, the calibration {self.calibration.num_steps}."
                )
            self._scales = trajectory_scales(sigmas, set(self.reuse_steps), self.time_scale)
        return self._scales[step]

    def decide(self, call: DenoiserCall) -> Decision:
        self._check(call)
        step = call.info.step
        if step not in self.reuse_steps:
            return Decision(True, "not in the calibrated schedule")
        if call.state_key not in self._cached:
            return Decision(True, "no cached residual for this branch yet")
        return Decision(False, "in the calibrated schedule", self.time_scale.get(step))

    def _rectification_terms(self, key: str, step: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        cached = self._terms.get((key, step))
        if cached is None or cached[0].device != device:
            slope, intercept = self.calibration.rectification[key][step]
            cached = (torch.tensor(slope, dtype=torch.float32, device=device),
                      torch.tensor(intercept, dtype=torch.float32, device=device))
            self._terms[(key, step)] = cached
        return cached

    def reused_output(self, call: DenoiserCall) -> torch.Tensor:
        step, key = call.info.step, state_name(call.state_key)
        cached = self._cached[call.state_key]
        prediction = cached.prediction(call.latent)
        if self.config.rectification:
            slope, intercept = self._rectification_terms(key, step, prediction.device)
            prediction = apply_rectification(prediction, slope, intercept, self.channel_dim)
        if self.time_adjustment:
            prediction = prediction * (self.time_scale.get(step, 1.0) * self._scale(step))
        return prediction.to(cached.dtype)

    def adjust_inputs(self, call: DenoiserCall, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        scale = self._scale(call.info.step)
        if scale == 1.0:
            return args, kwargs
        name = self.tracker.adapter.timestep_argument
        if name in kwargs:
            return args, {**kwargs, name: kwargs[name] * scale}
        args = list(args)
        args[1] = args[1] * scale
        return tuple(args), kwargs

    def after_compute(self, call: DenoiserCall, output: torch.Tensor) -> None:
        self._cached[call.state_key] = CachedResidual.of(call.latent, output)

    def adjust_output(self, call: DenoiserCall, output: torch.Tensor) -> torch.Tensor:
        scale = self._scale(call.info.step)
        return output if scale == 1.0 else output * scale
