"""EasyCache (Zhou et al., arXiv 2507.02860): reuse whole denoiser calls at run time.

The transformation rate k = mean|o_t - o_prev| / mean|x_t - x_prev| (over consecutive computed
calls) is nearly constant within stretches of the trajectory. At a candidate step the relative
output change is predicted as eps = k * mean|x_t - x_{t-1}| / mean|o_last|; the estimates are
accumulated, and while the sum stays below tau the call is replaced by x_t + (o_last - x_last).
The first ``warmup_steps`` and the last ``final_steps`` steps are always computed; a computed call
resets the accumulator. Norms are L1 means. Under CFG the first branch evaluated at a step (cond,
in every supported family; the cond part when cond/uncond are batched) decides for the step and
the other branch follows with its own cached offset. As in the official code, the offset is kept
and added in float32.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import torch

from ..context import DenoiserCall
from ..families.registry import family_preset
from ..runtime.tracker import RunTracker
from .base import CachedResidual, Decision, MethodConfig, StepPolicy, is_number, mean_abs, require


@dataclasses.dataclass
class EasyCacheConfig(MethodConfig):
    """EasyCache: skip a denoiser call while the accumulated predicted output change stays small.

    Args:
        threshold: tau. A call is reused while the accumulated error estimate E stays below it;
            larger means more reuse. ``0`` never reuses (bit-identical to the plain pipeline).
        warmup_steps: R. The first R denoising steps are always computed.
        final_steps: the last ``final_steps`` steps are always computed (the paper: 1).
    """

    method: ClassVar[str] = "easycache"
    role: ClassVar[str] = "step"

    threshold: float = 0.05
    warmup_steps: int = 10
    final_steps: int = 1

    def validate(self) -> None:
        require(is_number(self.threshold) and math.isfinite(self.threshold),
                f"EasyCacheConfig.threshold must be a finite number, got {self.threshold!r}.")
        require(self.threshold >= 0, f"EasyCacheConfig.threshold must be >= 0 (0 never reuses), got {self.threshold}.")
        require(isinstance(self.warmup_steps, int) and not isinstance(self.warmup_steps, bool)
                and self.warmup_steps >= 0,
                f"EasyCacheConfig.warmup_steps must be an integer >= 0, got {self.warmup_steps!r}.")
        require(isinstance(self.final_steps, int) and not isinstance(self.final_steps, bool)
                and self.final_steps >= 0,
                f"EasyCacheConfig.final_steps must be an integer >= 0, got {self.final_steps!r}.")

    @classmethod
    def preset(cls, family: str, **overrides: float | int) -> "EasyCacheConfig":
        """The defaults for a model family (``EasyCacheConfig.preset("wan")``), with optional overrides."""
        return cls(**{**family_preset(family, cls.method), **overrides})

    def policy(self, tracker: RunTracker) -> "EasyCachePolicy":
        return EasyCachePolicy(self, tracker)


@dataclasses.dataclass
class _BranchState:
    """What EasyCache remembers for one CFG branch of one denoiser."""

    previous_input: torch.Tensor | None = None
    last_computed_input: torch.Tensor | None = None
    last_output: torch.Tensor | None = None
    cached: CachedResidual | None = None
    rate: float | None = None
    accumulated: float = 0.0


class EasyCachePolicy(StepPolicy):
    """Runtime-adaptive reuse decision of EasyCache; see the module docstring."""

    method = "easycache"

    def __init__(self, config: EasyCacheConfig, tracker: RunTracker) -> None:
        self.config = config
        super().__init__(tracker)

    def start_run(self) -> None:
        self._states: dict[tuple[int, str], _BranchState] = {}
        self._step_reuse: dict[int, Decision] = {}

    def decide(self, call: DenoiserCall) -> Decision:
        state = self._states.setdefault(call.state_key, _BranchState())
        decision = self._decide(call, state)
        if call.info.first_at_step:
            self._step_reuse[call.info.step] = decision
        state.previous_input = call.latent.detach().clone()
        return decision

    def _decide(self, call: DenoiserCall, state: _BranchState) -> Decision:
        info, tau = call.info, float(self.config.threshold)
        num_steps = self.tracker.require_num_steps(self.method)
        if info.step < self.config.warmup_steps:
            return Decision(True, "warmup")
        if info.step >= num_steps - self.config.final_steps:
            return Decision(True, "final step")
        if not info.first_at_step:
            leader = self._step_reuse.get(info.step)
            if leader is None or leader.compute:
                return Decision(True, "follows leader branch", leader and leader.metric, tau)
            if state.cached is None:
                return Decision(True, "no cached output for this branch yet", leader.metric, tau)
            return Decision(False, "follows leader branch", leader.metric, tau)
        if state.rate is None or state.cached is None or state.previous_input is None:
            return Decision(True, "transformation rate not known yet")
        input_change = mean_abs(call.leader(call.latent) - call.leader(state.previous_input))
        output_scale = mean_abs(call.leader(state.last_output))
        estimate = float((state.rate * input_change / output_scale).item()) if output_scale > 0 else math.inf
        accumulated = state.accumulated + estimate
        if accumulated < tau:
            state.accumulated = accumulated
            return Decision(False, "accumulated error below threshold", accumulated, tau)
        return Decision(True, "accumulated error reached threshold", accumulated, tau)

    def reused_output(self, call: DenoiserCall) -> torch.Tensor:
        return self._states[call.state_key].cached.reuse(call.latent)

    def after_compute(self, call: DenoiserCall, output: torch.Tensor) -> None:
        state = self._states[call.state_key]
        latent, output = call.latent.detach(), output.detach()
        if state.last_output is not None and state.last_computed_input is not None:
            input_change = mean_abs(call.leader(latent) - call.leader(state.last_computed_input))
            output_change = mean_abs(call.leader(output) - call.leader(state.last_output))
            state.rate = float((output_change / input_change).item()) if input_change > 0 else None
        state.last_output = output.clone()
        state.last_computed_input = latent.clone()
        state.cached = CachedResidual.of(latent, output)
        state.accumulated = 0.0
