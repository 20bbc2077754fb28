"""Cache methods: step policies (which denoiser calls to reuse) and attention methods."""

from __future__ import annotations

from typing import Any, Callable

from ..config.base import MethodConfig
from ..errors import ConfigError
from .base import Decision, DenoiserCall, StepPolicy


def step_policy_factory(config: MethodConfig) -> Callable[[Any], StepPolicy]:
    """A function building the step policy of ``config`` for a run tracker."""
    from .easycache import EasyCachePolicy
    from .ertacache import ERTACachePolicy
    from .schedule import ReuseSchedulePolicy

    policies: dict[str, Callable[[Any, Any], StepPolicy]] = {
        "easycache": EasyCachePolicy,
        "ertacache": ERTACachePolicy,
        "schedule": ReuseSchedulePolicy,
    }
    if config.method not in policies:
        raise ConfigError(f"{type(config).__name__} is not a step method.")
    policy_class = policies[config.method]
    return lambda tracker: policy_class(config, tracker)


def attention_method(config: MethodConfig) -> Callable[[Any, Any], Any]:
    """A function attaching the attention method of ``config`` to a resolved target."""
    from ..attention import attach_sparse_attention

    attachers: dict[str, Callable[..., Any]] = {"sparse_attention": attach_sparse_attention}
    if config.method not in attachers:
        raise ConfigError(f"{type(config).__name__} is not an attention method.")
    return lambda resolved, session: attachers[config.method](config, resolved, session)


__all__ = ["Decision", "DenoiserCall", "StepPolicy", "step_policy_factory", "attention_method"]
