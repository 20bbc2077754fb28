"""The denoiser modules of a diffusers pipeline that a peer cache is attached to."""

from __future__ import annotations

from typing import Any

DENOISER_ATTRIBUTES = ("transformer", "transformer_2", "unet")


def pipeline_denoisers(pipe: Any) -> list[Any]:
    """``pipe.transformer`` (and ``transformer_2`` of two-expert pipelines such as Wan2.2), or ``unet``."""
    found = [getattr(pipe, name, None) for name in DENOISER_ATTRIBUTES]
    found = [module for module in found if module is not None]
    if not found:
        raise TypeError(f"{type(pipe).__name__} has no transformer or unet to attach a cache to.")
    return found
