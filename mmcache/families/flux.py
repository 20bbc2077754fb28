"""Flux (text-to-image; guidance embedded, true CFG optional)."""

from .adapter import FamilyAdapter
from .registry import register_family

FLUX = register_family(FamilyAdapter(
    name="flux",
    pipeline_classes=("FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline"),
    denoiser_classes=("FluxTransformer2DModel",),
    block_attributes=("transformer_blocks", "single_transformer_blocks"),
    channel_dim=-1,
    self_attention=("attn",),
    joint_text="prefix",
    presets={"easycache": {"threshold": 0.05, "warmup_steps": 5}},  # HunyuanVideo's warm-up, Wan's threshold
    notes="image model; guidance is embedded (one branch) unless true_cfg_scale > 1.",
))
