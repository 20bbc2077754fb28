"""CogVideoX (T2V, I2V, V2V): cond and uncond batched in one call, latents [B, F, C, H, W]."""

from .adapter import FamilyAdapter
from .registry import register_family

COGVIDEOX = register_family(FamilyAdapter(
    name="cogvideox",
    pipeline_classes=("CogVideoXPipeline", "CogVideoXImageToVideoPipeline", "CogVideoXVideoToVideoPipeline"),
    denoiser_classes=("CogVideoXTransformer3DModel",),
    block_attributes=("transformer_blocks",),
    batched_cfg=True,
    batched_branch_order=("uncond", "cond"),
    channel_dim=2,
    conditioned_channels=True,
    self_attention=("attn1",),
    joint_text="prefix",
    presets={"easycache": {"threshold": 0.05, "warmup_steps": 10}},  # Wan's setting, a starting point
    notes="cond and uncond are batched in one call (uncond first); latents are [B, F, C, H, W].",
))
