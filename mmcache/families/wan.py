"""Wan 2.1 / 2.2 (T2V, I2V, TI2V; Wan 2.2's two experts)."""

from .adapter import FamilyAdapter
from .registry import register_family

WAN = register_family(FamilyAdapter(
    name="wan",
    pipeline_classes=("WanPipeline", "WanImageToVideoPipeline", "WanVideoToVideoPipeline"),
    denoiser_classes=("WanTransformer3DModel",),
    denoiser_attributes=("transformer", "transformer_2"),
    block_attributes=("blocks",),
    conditioned_channels=True,
    self_attention=("attn1",),
    presets={"easycache": {"threshold": 0.05, "warmup_steps": 10}},  # the paper's Wan2.1 setting (0.1: about 2x)
    notes="Wan 2.1 and 2.2 (T2V, I2V, TI2V); Wan 2.2's two experts are both hooked, each with its own cache.",
))
