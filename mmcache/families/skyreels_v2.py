"""SkyReels-V2 (T2V, I2V); its diffusion-forcing pipelines denoise chunks with their own schedules."""

from .adapter import FamilyAdapter
from .registry import register_family, register_unsupported_pipeline

SKYREELS_V2 = register_family(FamilyAdapter(
    name="skyreels-v2",
    pipeline_classes=("SkyReelsV2Pipeline", "SkyReelsV2ImageToVideoPipeline"),
    denoiser_classes=("SkyReelsV2Transformer3DModel",),
    block_attributes=("blocks",),
    conditioned_channels=True,
    self_attention=("attn1",),
    presets={"easycache": {"threshold": 0.05, "warmup_steps": 10}},  # a Wan-style DiT: Wan's setting
))

for _name in (
    "SkyReelsV2DiffusionForcingPipeline",
    "SkyReelsV2DiffusionForcingImageToVideoPipeline",
    "SkyReelsV2DiffusionForcingVideoToVideoPipeline",
):
    register_unsupported_pipeline(
        _name,
        "diffusion forcing denoises chunks of frames with independent schedules, so whole-call step skipping "
        "does not apply; chunkwise reuse (FlowCache) is the method for it",
    )
