"""One enabled pipeline: tracker, step policy, stats, and the per-forward orchestration."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

from ..methods.base import Decision, DenoiserCall
from ..stats import CacheStats, RunRecorder, StepRecord
from .adapter import FamilyAdapter
from .registry import ResolvedTarget
from .timing import ForwardTimer
from .tracker import ForwardInfo, RunTracker

if TYPE_CHECKING:
    from ..methods.base import StepPolicy
    from .hook import DenoiserHook

NO_STEP_METHOD = "none"


def output_sample(output: Any) -> torch.Tensor:
    """The predicted tensor inside a denoiser's output (tuple, ``BaseOutput`` or tensor)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple):
        return output[0]
    return output.sample


def output_kind(output: Any) -> Any:
    """What ``with_sample`` needs to rebuild an output like ``output``: tensor, tuple or output class."""
    if isinstance(output, torch.Tensor):
        return torch.Tensor
    return tuple if isinstance(output, tuple) else type(output)


def with_sample(kind: Any, sample: torch.Tensor) -> Any:
    """A denoiser output of the given kind (see ``output_kind``) holding ``sample``."""
    if kind is torch.Tensor:
        return sample
    if kind is tuple:
        return (sample,)
    return kind(sample=sample)


@dataclasses.dataclass
class ForwardPlan:
    """What ``before_forward`` decided for one forward; ``reused_output`` is set when it is skipped."""

    denoiser: int
    info: ForwardInfo
    call: DenoiserCall | None
    decision: Decision
    timer: ForwardTimer
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    reused_output: Any = None


class CacheSession:
    """State shared by the hooks of one enabled pipeline (all its denoisers)."""

    def __init__(self, target: ResolvedTarget, policy_factory: Any, num_inference_steps: int | None) -> None:
        self.target = target
        self.adapter: FamilyAdapter = target.adapter
        self.tracker = RunTracker(target.adapter, target.pipeline, num_inference_steps)
        self.policy: StepPolicy | None = policy_factory(self.tracker) if policy_factory else None
        self.method = self.policy.method if self.policy else NO_STEP_METHOD
        self.history: list[CacheStats] = []
        self._recorder: RunRecorder | None = None
        self.current: ForwardPlan | None = None  # the forward in progress (read by attention methods)
        self._output_kinds: dict[int, Any] = {}

    # -- run boundaries -------------------------------------------------------------------
    def end_run(self) -> None:
        """Freeze the current run's stats; the next forward starts a clean run."""
        if self._recorder is not None and self.tracker.active:
            self.history.append(self._recorder.freeze())
            self._recorder = None
        self.tracker.end_run()

    def _begin_run(self) -> None:
        if self._recorder is not None:
            self.history.append(self._recorder.freeze())
        self._recorder = RunRecorder(self.method, self.tracker.run)
        self._recorder.num_steps = self.tracker.num_steps
        if self.policy is not None:
            self.policy.start_run()

    def current_stats(self) -> CacheStats | None:
        """Stats of the run in progress, if any."""
        return self._recorder.freeze() if self._recorder is not None else None

    # -- the hot path -----------------------------------------------------------------------
    @torch._dynamo.disable
    def before_forward(self, hook: "DenoiserHook", module: torch.nn.Module, context: Any, args: tuple,
                       kwargs: dict) -> ForwardPlan:
        """Place the forward in the run and ask the step method whether to compute it."""
        hidden_states = self._argument(args, kwargs, self.adapter.hidden_states_argument, 0)
        if not isinstance(hidden_states, torch.Tensor):
            raise TypeError(
                f"mmcache expected the denoiser's `{self.adapter.hidden_states_argument}` to be a tensor, "
                f"got {type(hidden_states).__name__}."
            )
        timestep = self._argument(args, kwargs, self.adapter.timestep_argument, 1)
        info, new_run = self.tracker.begin_forward(context, hidden_states, timestep)
        if new_run or self._recorder is None:
            self._begin_run()
        timer = ForwardTimer(hidden_states.device)
        if self.policy is None:
            self.current = ForwardPlan(hook.denoiser_index, info, None, Decision(True, "no step method"), timer, args,
                                       kwargs)
            return self.current
        latent = self.adapter.noisy_latent(module, hidden_states)
        call = DenoiserCall(info=info, denoiser=hook.denoiser_index, latent=latent, kwargs=kwargs)
        decision = self.policy.decide(call)
        kind = self._output_kinds.get(hook.denoiser_index)
        plan = ForwardPlan(hook.denoiser_index, info, call, decision, timer, args, kwargs)
        self.current = plan
        if not decision.compute:
            if kind is not None:
                plan.reused_output = with_sample(kind, self.policy.reused_output(call))
                self._record(plan)
                return plan
            plan.decision = dataclasses.replace(decision, compute=True, reason="no output structure known yet")
        plan.args, plan.kwargs = self.policy.adjust_inputs(call, args, kwargs)
        return plan

    @torch._dynamo.disable
    def after_forward(self, plan: ForwardPlan, output: Any) -> Any:
        """Let the step method learn from the computed output; record the forward."""
        if self.policy is not None and plan.call is not None:
            kind = output_kind(output)
            self._output_kinds[plan.denoiser] = kind
            sample = output_sample(output)
            self.policy.after_compute(plan.call, sample)
            adjusted = self.policy.adjust_output(plan.call, sample)
            if adjusted is not sample:
                output = with_sample(kind, adjusted)
        self._record(plan)
        return output

    def _record(self, plan: ForwardPlan) -> None:
        plan.timer.stop()
        assert self._recorder is not None
        self._recorder.num_steps = self.tracker.num_steps
        decision = plan.decision
        for branch in plan.info.branches:
            self._recorder.add(StepRecord(plan.info.step, branch, decision.compute, decision.reason,
                                          decision.metric, decision.threshold))
        self._recorder.add_forward(decision.compute, plan.timer)

    @staticmethod
    def _argument(args: tuple, kwargs: dict, name: str, position: int) -> Any:
        if name in kwargs:
            return kwargs[name]
        if len(args) > position:
            return args[position]
        return None
