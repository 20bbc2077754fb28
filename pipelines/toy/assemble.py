"""Assemble trained components into diffusers pipelines and save them in the standard layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diffusers import AutoencoderKLWan, SkyReelsV2DiffusionForcingPipeline, WanPipeline

from ..loader import DEFAULTS_FILE
from ..saving import forget_source_paths
from .configs import FLOW_SHIFT, NUM_FRAMES, SIZE, build_scheduler
from .tokenizer import build_tokenizer

T2V_DEFAULTS: dict[str, Any] = {
    "height": SIZE, "width": SIZE, "num_frames": NUM_FRAMES, "num_inference_steps": 30, "guidance_scale": 5.0,
    "negative_prompt": "",
}
# Asynchronous diffusion forcing: each latent frame lags the previous one by ``DF_AR_STEP`` sampler steps, so
# earlier frames settle first and later ones are drawn given them (toy-df keeps the motion far more often so).
DF_AR_STEP = 3
DF_DEFAULTS: dict[str, Any] = {
    **T2V_DEFAULTS, "num_frames": 41,
    "extra": {"base_num_frames": NUM_FRAMES, "overlap_history": 9, "addnoise_condition": 0, "ar_step": DF_AR_STEP},
}
# Block-causal diffusion forcing (toy-ar): blocks of 2 latent frames, windows of 21 frames (6 latent frames, 3
# blocks), each carrying a 1-block clean prefix (5 frames) over from the last. 45 frames = 12 latent frames = 6 blocks.
AR_DEFAULTS: dict[str, Any] = {
    **T2V_DEFAULTS, "num_frames": 45,
    "extra": {"causal_block_size": 2, "base_num_frames": 21, "overlap_history": 5, "ar_step": DF_AR_STEP,
              "addnoise_condition": 0},
}


def build_t2v_pipeline(vae: AutoencoderKLWan, text_encoder: Any, transformer: Any,
                       flow_shift: float = FLOW_SHIFT) -> WanPipeline:
    return WanPipeline(tokenizer=build_tokenizer(), text_encoder=text_encoder, vae=vae,
                       scheduler=build_scheduler(flow_shift), transformer=transformer)


def build_df_pipeline(vae: AutoencoderKLWan, text_encoder: Any, transformer: Any,
                      flow_shift: float = FLOW_SHIFT) -> SkyReelsV2DiffusionForcingPipeline:
    return SkyReelsV2DiffusionForcingPipeline(tokenizer=build_tokenizer(), text_encoder=text_encoder, vae=vae,
                                              scheduler=build_scheduler(flow_shift), transformer=transformer)


def save_pipeline(pipe: Any, folder: Path, defaults: dict[str, Any]) -> None:
    """``save_pretrained`` (safetensors) plus the recommended call settings in ``mmcache_defaults.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    forget_source_paths(folder)
    (folder / DEFAULTS_FILE).write_text(json.dumps(defaults, indent=2) + "\n")
