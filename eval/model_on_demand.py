"""The model of a KV task run (``--task vqa``, ``--task image``), loaded only when some work needs it."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from .errors import EvalError


class ModelOnDemand:
    """The pipeline, loaded the first time it is needed; ``check(pipe)``, if given, then checks what needs the
    model (raising one ``EvalError``)."""

    def __init__(self, model: str, device: str | None, dtype: str | None,
                 check: Callable[[Any], None] | None = None) -> None:
        self.model, self.requested_device, self.dtype, self.check = model, device, dtype, check
        self.pipe: Any = None

    def get(self) -> Any:
        if self.pipe is None:
            from mmcache.pipelines.loader import load

            self.pipe = load(self.model, device=self.requested_device, dtype=self.dtype)
            if self.check is not None:
                self.check(self.pipe)
        return self.pipe

    @property
    def device(self) -> str:
        from mmcache.pipelines.loader import default_device

        return str(self.pipe.device) if self.pipe is not None else self.requested_device or str(default_device())


def check_configs(model: str, methods: Iterable[Any], fits: Callable[[Any], Any]) -> None:
    """``fits(config)`` for each method's config (the plain model's, ``None``, is skipped): a ``ConfigError`` (the
    method does not fit the loaded model) becomes one ``EvalError`` naming the spec and the model."""
    from mmcache.errors import ConfigError

    for method in methods:
        try:
            if method.config is not None:
                fits(method.config)
        except ConfigError as error:
            raise EvalError(f"{method.spec!r} on {model}: {error}") from None
