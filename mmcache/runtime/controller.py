"""The controller of one enabled pipeline: tracker, step policy, per-run stats, the forward in progress.

``mmcache.enable`` creates one; the hooks of every denoiser of the pipeline share it, and methods
read the forward in progress from it (``current``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..context import DenoiserCall, ForwardInfo
from ..families.adapter import FamilyAdapter
from ..families.registry import ResolvedTarget
from ..stats import CacheStats, RunRecorder, StepRecord
from .timing import ForwardTimer
from .tracker import RunTracker
from .windows import Window, WindowProbe

if TYPE_CHECKING:
    from ..methods.base import Decision, StepPolicy

NO_STEP_METHOD = "none"


@dataclasses.dataclass
class ForwardPlan:
    """What was decided for one forward; ``reused_output`` is set when it is not computed."""

    denoiser: int
    info: ForwardInfo
    call: DenoiserCall | None
    decision: "Decision"
    timer: ForwardTimer
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    reused_output: Any = None


class CacheController:
    """State shared by the hooks of one enabled pipeline (all its denoisers)."""

    def __init__(self, target: ResolvedTarget, policy: "StepPolicy | None", tracker: RunTracker) -> None:
        self.target = target
        self.adapter: FamilyAdapter = target.adapter
        self.tracker = tracker
        self.policy = policy
        self.method = policy.method if policy else NO_STEP_METHOD
        self.history: list[CacheStats] = []
        self.current: ForwardPlan | None = None  # the forward in progress (read by attention methods)
        self.output_kinds: dict[int, Any] = {}
        self._recorder: RunRecorder | None = None
        self.window_probe: WindowProbe | None = None

    # -- run boundaries -------------------------------------------------------------------
    def end_run(self) -> None:
        """Freeze the current run's stats; the next forward starts a clean run."""
        if self._recorder is not None and self.tracker.active:
            self.history.append(self._recorder.freeze())
            self._recorder = None
        self.tracker.end_run()
        if self.window_probe is not None:
            self.window_probe.reset()

    def begin_window(self, window: Window) -> None:
        """A diffusion-forcing pipeline planned its next window (called by the window probe)."""
        self.tracker.begin_window(window)
        if self.policy is not None and self.in_run:
            self.policy.start_window()

    def begin_run(self) -> None:
        """A new pipeline call: fresh stats, and the step method forgets the previous call."""
        if self._recorder is not None:
            self.history.append(self._recorder.freeze())
        self._recorder = RunRecorder(self.method, self.tracker.run)
        self._recorder.num_steps = self.tracker.num_steps
        self._recorder.extra = getattr(self.policy, "run_stats", None)
        if self.policy is not None:
            self.policy.start_run()

    @property
    def in_run(self) -> bool:
        return self._recorder is not None

    def current_stats(self) -> CacheStats | None:
        """Stats of the run in progress, if any."""
        return self._recorder.freeze() if self._recorder is not None else None

    def record(self, plan: ForwardPlan) -> None:
        """Add a finished (computed or reused) forward to the run's stats."""
        plan.timer.stop()
        assert self._recorder is not None
        self._recorder.num_steps = self.tracker.num_steps
        decision = plan.decision
        for branch in plan.info.branches:
            self._recorder.add(StepRecord(plan.info.step, branch, decision.compute, decision.reason,
                                          decision.metric, decision.threshold, plan.info.window))
        plain = computed = 0
        if plan.call is not None:
            latent = plan.call.latent
            plain = latent.numel() // latent.shape[self.adapter.channel_dim]
            computed = self.policy.computed_positions(plan.call, plain) if decision.compute else 0
        self._recorder.add_forward(decision.compute, plan.timer, plain, computed)
