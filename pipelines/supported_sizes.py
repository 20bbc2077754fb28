"""Which heights, widths and frame counts a model can generate, read from its configs (no weights loaded).

A size the model cannot take otherwise fails deep inside the pipeline (a RoPE table too short, a
latent that does not divide into patches) or, for the bundled reference models, runs and returns a
video of a size they never saw in training. ``SizeRules.check`` refuses such sizes up front, with
one line naming the setting and a size that works.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

# The bundled reference models were trained on 64x64 clips only (pipelines/toy/configs.py SIZE).
TRAINED_SIZES = {"toy-t2v": (64, 64), "toy-df": (64, 64)}


class UnsupportedSizeError(ValueError):
    """A height, width or frame count the model cannot generate."""


@dataclasses.dataclass(frozen=True)
class SizeRules:
    """Constraints on one model's output size; ``None`` means unconstrained."""

    model: str
    multiple: int | None = None  # height and width must be multiples of it (VAE factor x patch)
    max_side: int | None = None  # from the denoiser's RoPE table
    frame_step: int | None = None  # frames must be frame_step * k + 1 (the VAE's temporal factor)
    max_frames: int | None = None  # from the RoPE table along time
    trained: tuple[int, int] | None = None  # the only (height, width) a reference model was trained at

    def check(self, height: int | None, width: int | None, frames: int | None,
              names: Mapping[str, str] | None = None) -> None:
        """Raise ``UnsupportedSizeError`` for the first value the model cannot take.

        ``names`` maps ``height``/``width``/``frames`` to what the caller calls them (e.g. ``--height``).
        """
        name = {"height": "height", "width": "width", "frames": "frames", **(names or {})}
        if self.trained is not None and any(given is not None and given != trained
                                            for given, trained in zip((height, width), self.trained)):
            h, w = self.trained
            raise UnsupportedSizeError(
                f"{self.model} generates {h}x{w} frames only (the size it was trained at), got {name['height']} "
                f"{height} and {name['width']} {width}; set both to {h} or leave them out.")
        for key, value in (("height", height), ("width", width)):
            if value is None:
                continue
            if self.multiple and value % self.multiple:
                fitting = max(self.multiple, round(value / self.multiple) * self.multiple)
                raise UnsupportedSizeError(f"{name[key]} must be a multiple of {self.multiple} for {self.model}, "
                                           f"got {value} (try {fitting}).")
            if self.max_side and value > self.max_side:
                raise UnsupportedSizeError(f"{name[key]} {value} is larger than {self.model} supports (at most "
                                           f"{self.max_side}, the length of its position table).")
        if frames is None or self.frame_step is None:
            return
        if (frames - 1) % self.frame_step:
            fitting = (frames - 1) // self.frame_step * self.frame_step + 1
            step = self.frame_step
            raise UnsupportedSizeError(f"{name['frames']} must be {step}·k + 1 for {self.model} (1, {1 + step}, "
                                       f"{1 + 2 * step}, ...), got {frames} (try {fitting}).")
        if self.max_frames and frames > self.max_frames:
            raise UnsupportedSizeError(f"{name['frames']} {frames} is more than {self.model} supports (at most "
                                       f"{self.max_frames}, the length of its position table).")


def _patch(transformer: Mapping[str, Any]) -> tuple[int, int]:
    """(temporal, spatial) patch size of a denoiser config."""
    patch = transformer.get("patch_size") or 1
    if isinstance(patch, (list, tuple)):
        return int(patch[0]), int(patch[-1])
    return int(transformer.get("patch_size_t") or 1), int(patch)


def _vae_factors(vae: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(spatial, temporal) compression of a VAE config; temporal is ``None`` for image VAEs."""
    downsample = vae.get("temperal_downsample")
    scaling = vae.get("spatio_temporal_scaling")
    if scaling is not None:  # LTX-Video
        levels = 2 ** sum(bool(flag) for flag in scaling)
        return int(vae.get("patch_size") or 1) * levels, int(vae.get("patch_size_t") or 1) * levels
    spatial = vae.get("scale_factor_spatial") or vae.get("spatial_compression_ratio")
    if spatial is None:
        spatial = 2 ** len(downsample) if downsample is not None else 2 ** (len(vae.get("block_out_channels", [0])) - 1)
    temporal = vae.get("scale_factor_temporal") or vae.get("temporal_compression_ratio")
    if temporal is None and downsample is not None:
        temporal = 2 ** sum(bool(flag) for flag in downsample)
    return int(spatial), (int(temporal) if temporal else None)


def rules_from_configs(model: str, transformer: Mapping[str, Any], vae: Mapping[str, Any],
                       pipeline_class: str = "", trained: tuple[int, int] | None = None) -> SizeRules:
    """The rules of a denoiser and VAE given by their configs (``pipeline_class``: its ``_class_name``)."""
    patch_t, patch = _patch(transformer)
    spatial, temporal = _vae_factors(vae)
    if pipeline_class.startswith("Flux"):  # latents are packed into 2x2 patches
        patch *= 2
    rope = transformer.get("rope_max_seq_len")
    return SizeRules(
        model=model,
        multiple=spatial * patch,
        max_side=rope * spatial * patch if rope else None,
        frame_step=temporal,
        max_frames=(rope * patch_t - 1) * temporal + 1 if rope and temporal else None,
        trained=trained,
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def rules_for_folder(model: str, folder: Path) -> SizeRules | None:
    """The rules of a saved pipeline folder, or ``None`` when its configs are missing or unreadable."""
    transformer = _read_config(folder / "transformer" / "config.json")
    vae = _read_config(folder / "vae" / "config.json")
    if not transformer or not vae:
        return None
    pipeline_class = str(_read_config(folder / "model_index.json").get("_class_name", ""))
    return rules_from_configs(model, transformer, vae, pipeline_class, TRAINED_SIZES.get(model))


def rules_for_pipe(model: str, pipe: Any) -> SizeRules | None:
    """The rules of a loaded pipeline, or ``None`` when it has no transformer and VAE configs."""
    transformer = getattr(getattr(pipe, "transformer", None), "config", None)
    vae = getattr(getattr(pipe, "vae", None), "config", None)
    if transformer is None or vae is None:
        return None
    return rules_from_configs(model, dict(transformer), dict(vae), type(pipe).__name__, TRAINED_SIZES.get(model))
