"""A fixed reuse schedule: the non-adaptive baseline that step-skipping methods are compared with."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch

from ..context import DenoiserCall
from ..runtime.tracker import RunTracker
from .base import CachedResidual, Decision, MethodConfig, StepPolicy, require


@dataclasses.dataclass
class ReuseScheduleConfig(MethodConfig):
    """Reuse x_t + (o_last - x_last) at exactly the listed steps, compute every other step.

    A plain, non-adaptive baseline (what step-skipping methods are compared against at equal
    cost) and the way benchmarks force a given fraction of reused steps. A listed step with no
    computed output before it is computed.
    """

    method: ClassVar[str] = "schedule"
    role: ClassVar[str] = "step"

    reuse_steps: tuple[int, ...] = ()

    def coerce(self, name: str, value: Any) -> Any:
        return tuple(value) if name == "reuse_steps" and isinstance(value, list) else value

    def validate(self) -> None:
        require(isinstance(self.reuse_steps, tuple), "ReuseScheduleConfig.reuse_steps must be a list of step indices.")
        require(all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in self.reuse_steps),
                f"ReuseScheduleConfig.reuse_steps must hold integers >= 0, got {list(self.reuse_steps)}.")
        require(len(set(self.reuse_steps)) == len(self.reuse_steps),
                f"ReuseScheduleConfig.reuse_steps has repeated steps: {list(self.reuse_steps)}.")

    @classmethod
    def every_other(cls, num_steps: int, first: int = 1, last_computed: bool = True) -> "ReuseScheduleConfig":
        """Reuse every second step from ``first`` on (half of the steps), keeping the last one computed."""
        stop = num_steps - 1 if last_computed else num_steps
        return cls(reuse_steps=tuple(range(first, stop, 2)))

    def policy(self, tracker: RunTracker) -> "ReuseSchedulePolicy":
        return ReuseSchedulePolicy(self, tracker)


class ReuseSchedulePolicy(StepPolicy):
    """Reuse ``x_t + (o_last - x_last)`` of the same branch at the configured steps."""

    method = "schedule"

    def __init__(self, config: ReuseScheduleConfig, tracker: RunTracker) -> None:
        self.config = config
        self.reuse_steps = frozenset(config.reuse_steps)
        super().__init__(tracker)

    def start_run(self) -> None:
        self._cached: dict[tuple[int, str], CachedResidual] = {}

    def decide(self, call: DenoiserCall) -> Decision:
        if call.info.step not in self.reuse_steps:
            return Decision(True, "not in the reuse schedule")
        if call.state_key not in self._cached:
            return Decision(True, "no cached output yet")
        return Decision(False, "in the reuse schedule")

    def reused_output(self, call: DenoiserCall) -> torch.Tensor:
        return self._cached[call.state_key].reuse(call.latent)

    def after_compute(self, call: DenoiserCall, output: torch.Tensor) -> None:
        self._cached[call.state_key] = CachedResidual.of(call.latent, output)
