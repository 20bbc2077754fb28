"""What every method shares: its config base class (validation, JSON, registry) and the step-method interface.

A method is one module in this package holding a ``MethodConfig`` subclass and the code that
applies it. Defining the subclass registers it under its ``method`` name. A **step** method
(``role = "step"``) builds a ``StepPolicy`` that decides, per denoiser forward, whether to compute
or to reuse; an **attention** method (``role = "attention"``) attaches to the denoiser's attention
modules and composes with one step method; a **KV** method (``role = "kv"``) compresses the KV
cache of a vision-language model's language model (``kv_policy``); a **scale-KV** method
(``role = "scale_kv"``) compresses the per-block KV cache of a next-scale-prediction (VAR) model
(``head_groups``, see ``scale_budget``).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import torch

from ..context import DenoiserCall
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..families.registry import ResolvedTarget, ResolvedVLM
    from ..kv.policy import KVPolicy
    from ..runtime.controller import CacheController
    from ..runtime.tracker import RunTracker

Role = Literal["step", "attention", "kv", "scale_kv"]

_CONFIG_CLASSES: dict[str, type["MethodConfig"]] = {}


def require(condition: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


def is_number(value: Any) -> bool:
    """A real int or float (not a bool, not a string)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Attachment(Protocol):
    """What an attention method attached to the model; ``detach`` removes it."""

    def detach(self) -> None: ...


@dataclasses.dataclass
class MethodConfig:
    """Base of the per-method configuration dataclasses.

    Subclasses set ``method`` (the name used in JSON, the CLI and stats) and ``role``, and
    implement ``validate`` (raise ``ConfigError`` naming the first invalid field). A config is
    validated when created and again whenever a field is assigned, so an invalid value never
    reaches a run.
    """

    method: ClassVar[str] = ""
    role: ClassVar[Role] = "step"
    # raised when the same settings start to give other outputs: results stored under the old one are made again
    behaviour_version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.method:
            _CONFIG_CLASSES[cls.method] = cls

    def __post_init__(self) -> None:
        self.validate()
        object.__setattr__(self, "_validated", True)

    def __setattr__(self, name: str, value: Any) -> None:
        fields = {field.name for field in dataclasses.fields(self)}
        if name in fields:
            value = self.coerce(name, value)
        if not self.__dict__.get("_validated") or name not in fields:
            object.__setattr__(self, name, value)
            return
        previous = self.__dict__[name]
        object.__setattr__(self, name, value)
        try:
            self.validate()
        except ConfigError:
            object.__setattr__(self, name, previous)
            raise

    def coerce(self, name: str, value: Any) -> Any:
        """The value stored for field ``name`` (e.g. a list turned into a tuple); default: unchanged."""
        return value

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first invalid field; subclasses extend this."""

    # -- applying the method ------------------------------------------------------------------
    def policy(self, tracker: "RunTracker") -> "StepPolicy":
        """The step policy of a step method (one per enabled pipeline)."""
        raise ConfigError(f"{type(self).__name__} is not a step method.")

    def attach(self, target: "ResolvedTarget", controller: "CacheController") -> Attachment:
        """Attach an attention method to the resolved target; return what ``detach`` undoes."""
        raise ConfigError(f"{type(self).__name__} is not an attention method.")

    def kv_policy(self, target: "ResolvedVLM") -> "KVPolicy":
        """The KV policy of a KV method for the resolved vision-language model (raise ``ConfigError`` if it does not fit)."""
        raise ConfigError(f"{type(self).__name__} is not a KV method.")

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict that ``MethodConfig.from_dict`` turns back into this config."""
        return {"method": self.method, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MethodConfig":
        """Rebuild a config from ``to_dict()`` output; called on the base class it dispatches on ``method``."""
        if not isinstance(data, dict):
            raise ConfigError(f"A method config must be a JSON object, got {type(data).__name__}.")
        data = dict(data)
        name = data.pop("method", cls.method or None)
        target = _CONFIG_CLASSES.get(name) if isinstance(name, str) else None
        if target is None:
            raise ConfigError(f"Unknown method {name!r}; known methods: {sorted(_CONFIG_CLASSES)}.")
        if cls.method and target is not cls:
            raise ConfigError(f"{cls.__name__}.from_dict got a config for method {name!r}.")
        known = {field.name for field in dataclasses.fields(target)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{target.__name__} has no field(s) {unknown}; valid fields: {sorted(known)}.")
        return target(**data)


def registered_methods() -> dict[str, type[MethodConfig]]:
    """Method name → config class, for every method module imported (``mmcache.methods`` imports all)."""
    return dict(_CONFIG_CLASSES)


# -- step methods ------------------------------------------------------------------------------
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

    def __init__(self, tracker: "RunTracker") -> None:
        self.tracker = tracker
        self.start_run()

    def attach(self, target: Any) -> None:
        """Check that the method fits the resolved target (``ResolvedTarget``) and install what it needs;
        raise ``ConfigError`` if it does not fit."""

    def detach(self) -> None:
        """Remove what ``attach`` installed."""

    def computed_positions(self, call: DenoiserCall, plain: int) -> int:
        """Latent positions a computed forward ran through the blocks (of ``plain``); default: all."""
        return plain

    @abc.abstractmethod
    def start_run(self) -> None:
        """Forget everything from the previous pipeline call."""

    def start_window(self) -> None:
        """A diffusion-forcing call moved to its next window (``tracker.window``); default: forget as for a new run."""
        self.start_run()

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


@dataclasses.dataclass(frozen=True)
class CachedResidual:
    """``o − x`` of the last computed call of a branch (float32), and the output dtype to reuse it in.

    Reusing it at a later step returns ``x_t + (o − x)``: the residual reuse every step method
    builds on.
    """

    residual: torch.Tensor
    dtype: torch.dtype

    @classmethod
    def of(cls, latent: torch.Tensor, output: torch.Tensor) -> "CachedResidual":
        return cls(output.detach().float() - latent.detach().float(), output.dtype)

    def prediction(self, latent: torch.Tensor) -> torch.Tensor:
        """``x_t + (o − x)`` in float32."""
        return latent.float() + self.residual

    def reuse(self, latent: torch.Tensor) -> torch.Tensor:
        """``x_t + (o − x)`` in the output's dtype."""
        return self.prediction(latent).to(self.dtype)


def mean_abs(tensor: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Mean absolute value (the L1-mean norm of the cache papers), computed in ``dtype``."""
    return tensor.to(dtype).abs().mean()


def behaviour_identity(config: Any) -> dict[str, int]:
    """What a stored result's identity adds for ``config``'s ``behaviour_version``: nothing for a first version (so
    results stored before versions existed stay valid), else ``{"behaviour": version}``."""
    version = getattr(config, "behaviour_version", 1)
    return {} if version == 1 else {"behaviour": version}
