"""Where a pipeline call starts and ends, for pipelines whose denoiser diffusers does not reset.

diffusers ends a run of stateful hooks at the end of every pipeline call only for denoisers that
carry its ``CacheMixin`` (``_reset_stateful_cache``). For another denoiser (AnyFlow FAR's), mmcache
gives the one pipeline object it is enabled on a subclass of its class (same name, nothing patched
globally) whose ``__call__`` closes the run before and after the call.
"""

from __future__ import annotations

from typing import Any, Callable


def needs_call_boundary(pipeline: Any, denoisers: tuple[Any, ...]) -> bool:
    """Whether diffusers would leave the run of ``pipeline``'s denoisers open after a call."""
    return pipeline is not None and not all(hasattr(module, "_reset_stateful_cache") for module in denoisers)


class CallBoundary:
    """Calls ``end_run`` before and after every call of ``pipeline``; ``detach`` restores its class."""

    def __init__(self, pipeline: Any, end_run: Callable[[], None]) -> None:
        self.pipeline = pipeline
        self.base = type(pipeline)
        base = self.base

        def __call__(instance: Any, *args: Any, **kwargs: Any) -> Any:
            end_run()
            try:
                return base.__call__(instance, *args, **kwargs)
            finally:
                end_run()

        __call__.__doc__ = base.__call__.__doc__
        self.boundary_class = type(base.__name__, (base,), {"__call__": __call__, "__module__": base.__module__})
        pipeline.__class__ = self.boundary_class

    def detach(self) -> None:
        if type(self.pipeline) is self.boundary_class:
            self.pipeline.__class__ = self.base
