"""Shared behaviour of every method configuration: validation, JSON round trip, registry."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

from ..errors import ConfigError

Role = Literal["step", "attention"]

_CONFIG_CLASSES: dict[str, type["MethodConfig"]] = {}


@dataclasses.dataclass
class MethodConfig:
    """Base of the per-method configuration dataclasses.

    Subclasses set ``method`` (the name used in JSON, the CLI and stats) and ``role``: ``"step"``
    methods decide per denoiser call whether to compute or reuse (at most one per pipeline);
    ``"attention"`` methods replace the denoiser's attention and compose with a step method.
    """

    method: ClassVar[str] = ""
    role: ClassVar[Role] = "step"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.method:
            _CONFIG_CLASSES[cls.method] = cls

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first invalid field; subclasses extend this."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict that ``MethodConfig.from_dict`` turns back into this config."""
        return {"method": self.method, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MethodConfig":
        """Rebuild a config from ``to_dict()`` output; called on the base class it dispatches on ``method``."""
        data = dict(data)
        name = data.pop("method", cls.method or None)
        target = _CONFIG_CLASSES.get(name) if name else None
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
    """Method name → config class, for every imported method."""
    return dict(_CONFIG_CLASSES)


def require(condition: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)
