"""HunyuanVideo (guidance embedded; true CFG optional)."""

from .adapter import FamilyAdapter
from .registry import register_family, register_unsupported_pipeline

HUNYUAN_VIDEO = register_family(FamilyAdapter(
    name="hunyuan-video",
    pipeline_classes=("HunyuanVideoPipeline",),
    denoiser_classes=("HunyuanVideoTransformer3DModel",),
    block_attributes=("transformer_blocks", "single_transformer_blocks"),
    self_attention=("attn",),
    joint_text="suffix",
    presets={"easycache": {"threshold": 0.025, "warmup_steps": 5}},  # the paper's HunyuanVideo setting
    notes="guidance is embedded (one branch) unless true_cfg_scale > 1.",
))

register_unsupported_pipeline(
    "HunyuanVideoFramepackPipeline", "it runs one denoising loop per history section; not supported yet"
)
