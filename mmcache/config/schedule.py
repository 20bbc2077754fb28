"""Configuration of a fixed reuse schedule: reuse the cached output at chosen steps."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from .base import MethodConfig, require


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

    def __post_init__(self) -> None:
        if isinstance(self.reuse_steps, list):
            self.reuse_steps = tuple(self.reuse_steps)
        super().__post_init__()

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
