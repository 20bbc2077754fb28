"""LTX-Video (T2V, I2V): cond and uncond batched in one call, packed token latents [B, S, C]."""

from .adapter import FamilyAdapter
from .registry import register_family

LTX_VIDEO = register_family(FamilyAdapter(
    name="ltx-video",
    pipeline_classes=("LTXPipeline", "LTXImageToVideoPipeline"),
    denoiser_classes=("LTXVideoTransformer3DModel",),
    block_attributes=("transformer_blocks",),
    batched_cfg=True,
    batched_branch_order=("uncond", "cond"),
    channel_dim=-1,
    self_attention=("attn1",),
    presets={"easycache": {"threshold": 0.05, "warmup_steps": 10}},  # Wan's setting, a starting point
    notes="cond and uncond are batched in one call (uncond first); latents are packed tokens [B, S, C].",
))
