"""The interface of a step method: per denoiser forward, decide to compute or to reuse."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import torch

from ..engine.tracker import ForwardInfo, RunTracker


@dataclasses.dataclass(frozen=True)
class DenoiserCall:
    """One denoiser forward as a step method sees it.

    ``latent`` is the noisy latent the output refers to (``hidden_states`` without image-to-video
    condition channels); ``denoiser`` indexes the pipeline's denoisers (Wan 2.2 has two experts).
    ``kwargs`` are the forward's keyword arguments, for methods that need more than the latent.
    """

    info: ForwardInfo
    denoiser: int
    latent: torch.Tensor
    kwargs: dict

    @property
    def state_key(self) -> tuple[int, str]:
        return (self.denoiser, self.info.state_key)

    def leader(self, tensor: torch.Tensor) -> torch.Tensor:
        """The batch chunk of the branch that decides for this forward."""
        return self.info.chunk(tensor, self.info.leader)


@dataclasses.dataclass(frozen=True)
class Decision:
    """Compute or reuse, why, and the decision quantity against its threshold."""

    compute: bool
    reason: str
    metric: float | None = None
    threshold: float | None = None


class StepPolicy(abc.ABC):
    """Base class of step methods (EasyCache, ERTACache, ...). One instance per enabled pipeline."""

    method: str = ""

    def __init__(self, tracker: RunTracker) -> None:
        self.tracker = tracker
        self.start_run()

    def attach(self, target: Any) -> None:
        """Check that the method fits the resolved target (``ResolvedTarget``); raise ``ConfigError`` if not."""

    @abc.abstractmethod
    def start_run(self) -> None:
        """Forget everything from the previous pipeline call."""

    @abc.abstractmethod
    def decide(self, call: DenoiserCall) -> Decision:
        """Whether to compute this forward; called before the forward."""

    @abc.abstractmethod
    def reused_output(self, call: DenoiserCall) -> torch.Tensor:
        """The output to return instead of computing (called only after a reuse decision)."""

    @abc.abstractmethod
    def after_compute(self, call: DenoiserCall, output: torch.Tensor) -> None:
        """Learn from a computed output (called only after a compute decision)."""

    def adjust_inputs(self, call: DenoiserCall, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Change a computed forward's arguments (e.g. an adjusted timestep); default: unchanged."""
        return args, kwargs

    def adjust_output(self, call: DenoiserCall, output: torch.Tensor) -> torch.Tensor:
        """Change a computed forward's output after ``after_compute``; return ``output`` itself if unchanged."""
        return output


def mean_abs(tensor: torch.Tensor) -> torch.Tensor:
    """Mean absolute value in float32 (the L1-mean norm used by the cache papers)."""
    return tensor.float().abs().mean()
