"""Fixed reuse schedule: the non-adaptive baseline that step-skipping methods are compared with."""

from __future__ import annotations

import torch

from ..config.schedule import ReuseScheduleConfig
from ..engine.tracker import RunTracker
from .base import Decision, DenoiserCall, StepPolicy


class ReuseSchedulePolicy(StepPolicy):
    """Reuse ``x_t + (o_last - x_last)`` of the same branch at the configured steps."""

    method = "schedule"

    def __init__(self, config: ReuseScheduleConfig, tracker: RunTracker) -> None:
        self.config = config
        self.reuse_steps = frozenset(config.reuse_steps)
        super().__init__(tracker)

    def start_run(self) -> None:
        self._offsets: dict[tuple[int, str], tuple[torch.Tensor, torch.dtype]] = {}

    def decide(self, call: DenoiserCall) -> Decision:
        if call.info.step not in self.reuse_steps:
            return Decision(True, "not in the reuse schedule")
        if call.state_key not in self._offsets:
            return Decision(True, "no cached output yet")
        return Decision(False, "in the reuse schedule")

    def reused_output(self, call: DenoiserCall) -> torch.Tensor:
        offset, dtype = self._offsets[call.state_key]
        return (call.latent.float() + offset).to(dtype)

    def after_compute(self, call: DenoiserCall, output: torch.Tensor) -> None:
        self._offsets[call.state_key] = (output.detach().float() - call.latent.detach().float(), output.dtype)
