"""A loaded pipeline that, called bare, generates at the settings stored beside its weights.

Diffusers pipelines default to their family's full size (Wan: 480×832, 81 frames); a bundled
reference model is trained at another (toy-t2v: 64×64, 17 frames), and called with diffusers'
defaults it fails deep inside its rotary embedding. ``with_call_defaults`` gives one pipeline
object a subclass (same class name, nothing patched globally) whose ``__call__`` fills every
argument the caller leaves out from ``mmcache_defaults.json``.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping


def flat_call_settings(defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Pipeline keyword arguments from a defaults file's content (``extra`` merged in)."""
    settings = {key: value for key, value in defaults.items() if key != "extra"}
    settings.update(defaults.get("extra", {}))
    return settings


def with_call_defaults(pipe: Any, defaults: Mapping[str, Any]) -> Any:
    """Make ``pipe(...)`` fill the arguments it is not given from ``defaults``; returns ``pipe``."""
    base = type(pipe)
    parameters = list(inspect.signature(base.__call__).parameters)[1:]  # without self
    settings = {key: value for key, value in flat_call_settings(defaults).items() if key in parameters}
    if not settings:
        return pipe

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        given = set(parameters[: len(args)]) | set(kwargs)
        return base.__call__(self, *args, **{**{k: v for k, v in settings.items() if k not in given}, **kwargs})

    __call__.__doc__ = base.__call__.__doc__
    __call__.__signature__ = inspect.signature(base.__call__)  # type: ignore[attr-defined]
    pipe.__class__ = type(base.__name__, (base,), {"__call__": __call__, "__module__": base.__module__,
                                                   "mmcache_call_defaults": dict(settings)})
    return pipe
