"""A loaded pipeline that, called bare, generates at the settings stored beside its weights.

Diffusers pipelines default to their family's full size (Wan: 480×832, 81 frames); a bundled
reference model is trained at another (toy-t2v: 64×64, 17 frames), and called with diffusers'
defaults it fails deep inside its rotary embedding. ``with_call_defaults`` gives one pipeline
object a subclass (same class name, nothing patched globally) whose ``__call__`` fills every
argument the caller leaves out from ``mmcache_defaults.json``. A block-causal diffusion-forcing
model (defaults with ``causal_block_size``) asked for a frame count that is not a whole number of
blocks generates the next one that is and crops back (``whole_blocks``).
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from .whole_blocks import crop_output, whole_block_frames


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
        call = {**{k: v for k, v in settings.items() if k not in given}, **kwargs}
        block = call.get("causal_block_size")
        asked = call.get("num_frames")
        if not block or not asked or whole_block_frames(asked, block) == asked or "num_frames" in parameters[:len(args)]:
            return base.__call__(self, *args, **call)
        output = base.__call__(self, *args, **{**call, "num_frames": whole_block_frames(asked, block)})
        return crop_output(output, asked, call.get("output_type") == "latent")

    __call__.__doc__ = base.__call__.__doc__
    __call__.__signature__ = inspect.signature(base.__call__)  # type: ignore[attr-defined]
    pipe.__class__ = type(base.__name__, (base,), {"__call__": __call__, "__module__": base.__module__,
                                                   "mmcache_call_defaults": dict(settings)})
    return pipe
