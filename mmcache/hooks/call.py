"""The whole-call hook: every denoiser forward is computed or reused, as the step method decides.

It is a diffusers ``ModelHook`` registered on each denoiser of the pipeline; the diffusers
``cache_context`` a pipeline opens around each CFG branch tells it which branch runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from diffusers.hooks import HookRegistry, ModelHook
from diffusers.hooks.hooks import BaseState, StateManager

from ..context import DenoiserCall
from ..methods.base import Decision
from ..runtime.controller import CacheController, ForwardPlan
from ..runtime.timing import ForwardTimer

HOOK_NAME = "mmcache_denoiser"


def output_sample(output: Any) -> torch.Tensor:
    """The predicted tensor inside a denoiser's output (tuple, ``BaseOutput`` or tensor)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple):
        return output[0]
    return output.sample


def output_kind(output: Any) -> Any:
    """What ``with_sample`` needs to rebuild an output like ``output``: its type and its other parts.

    A tuple keeps its elements after the first (AnyFlow FAR returns ``(sample, kv_cache)``), an
    output class its other fields.
    """
    if isinstance(output, torch.Tensor):
        return (torch.Tensor, None)
    if isinstance(output, tuple):
        return (tuple, output[1:])
    return (type(output), {key: value for key, value in output.items() if key != "sample"})


def with_sample(kind: Any, sample: torch.Tensor) -> Any:
    """A denoiser output of the given kind (see ``output_kind``) holding ``sample``."""
    cls, rest = kind
    if cls is torch.Tensor:
        return sample
    if cls is tuple:
        return (sample, *rest)
    return cls(**rest, sample=sample)


def _argument(args: tuple, kwargs: dict, name: str, position: int) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[position] if len(args) > position else None


class _ContextOnly(BaseState):
    """Placeholder state: the hook keeps a ``StateManager`` only to receive ``cache_context``s."""

    def reset(self, *args: Any, **kwargs: Any) -> None:
        return None


class DenoiserHook(ModelHook):
    """Wraps a denoiser's forward; the controller's step policy decides whether the original forward runs."""

    _is_stateful = True

    def __init__(self, controller: CacheController, denoiser_index: int) -> None:
        super().__init__()
        self.controller = controller
        self.denoiser_index = denoiser_index
        self.state_manager = StateManager(_ContextOnly)

    @torch._dynamo.disable(recursive=False)
    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        # The bookkeeping runs eagerly (its methods are excluded from torch.compile); the original
        # forward is called from this frame, so a compiled denoiser stays compiled.
        side = self.controller.adapter.side_forward_flag
        if side is not None and (kwargs.get(side[0]) or {}).get(side[1]):
            return self.fn_ref.original_forward(*args, **kwargs)  # fills the pipeline's own cache: not a step
        plan = self.before_forward(module, args, kwargs)
        if plan.reused_output is not None:
            return plan.reused_output
        output = self.fn_ref.original_forward(*plan.args, **plan.kwargs)
        return self.after_forward(plan, output)

    def reset_state(self, module: torch.nn.Module) -> torch.nn.Module:
        """Called by diffusers at the end of every pipeline call (``maybe_free_model_hooks``)."""
        self.controller.end_run()
        return module

    # -- the hot path -----------------------------------------------------------------------
    @torch._dynamo.disable
    def before_forward(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> ForwardPlan:
        """Place the forward in the run and ask the step method whether to compute it."""
        controller, adapter = self.controller, self.controller.adapter
        hidden_states = _argument(args, kwargs, adapter.hidden_states_argument, 0)
        if not isinstance(hidden_states, torch.Tensor):
            raise TypeError(f"mmcache expected the denoiser's `{adapter.hidden_states_argument}` to be a tensor, got "
                            f"{type(hidden_states).__name__}.")
        timestep = _argument(args, kwargs, adapter.timestep_argument, 1)
        info, new_run = controller.tracker.begin_forward(self.state_manager._context, hidden_states, timestep)
        if new_run or not controller.in_run:
            controller.begin_run()
        timer = ForwardTimer(hidden_states.device)
        policy = controller.policy
        if policy is None:
            controller.current = ForwardPlan(self.denoiser_index, info, None, Decision(True, "no step method"), timer,
                                             args, kwargs)
            return controller.current
        call = DenoiserCall(info=info, denoiser=self.denoiser_index, latent=adapter.noisy_latent(module, hidden_states),
                            kwargs=kwargs)
        decision = policy.decide(call)
        plan = ForwardPlan(self.denoiser_index, info, call, decision, timer, args, kwargs)
        controller.current = plan
        if not decision.compute:
            kind = controller.output_kinds.get(self.denoiser_index)
            if kind is not None:
                plan.reused_output = with_sample(kind, policy.reused_output(call))
                controller.record(plan)
                return plan
            plan.decision = dataclasses.replace(decision, compute=True, reason="no output structure known yet")
        plan.args, plan.kwargs = policy.adjust_inputs(call, args, kwargs)
        return plan

    @torch._dynamo.disable
    def after_forward(self, plan: ForwardPlan, output: Any) -> Any:
        """Let the step method learn from the computed output; record the forward."""
        policy = self.controller.policy
        if policy is not None and plan.call is not None:
            kind = output_kind(output)
            self.controller.output_kinds[plan.denoiser] = kind
            sample = output_sample(output)
            policy.after_compute(plan.call, sample)
            adjusted = policy.adjust_output(plan.call, sample)
            if adjusted is not sample:
                output = with_sample(kind, adjusted)
        self.controller.record(plan)
        return output


def attach(module: torch.nn.Module, hook: DenoiserHook) -> None:
    HookRegistry.check_if_exists_or_initialize(module).register_hook(hook, HOOK_NAME)


def detach(module: torch.nn.Module) -> None:
    registry = getattr(module, "_diffusers_hook", None)
    if registry is not None and registry.get_hook(HOOK_NAME) is not None:
        registry.remove_hook(HOOK_NAME, recurse=False)


def is_attached(module: torch.nn.Module) -> bool:
    registry = getattr(module, "_diffusers_hook", None)
    return registry is not None and registry.get_hook(HOOK_NAME) is not None
