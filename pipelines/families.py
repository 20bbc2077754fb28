"""Built-in model families: one declarative ``FamilyAdapter`` each.

Adding a family is one more entry here (or a ``mmcache.register_family`` call in user code) plus a
tiny random-weight test pipeline in ``mmcache.pipelines.tiny``; see docs/FAMILIES.md.
"""

from __future__ import annotations

from mmcache.engine.adapter import FamilyAdapter
from mmcache.engine.registry import register_family, register_unsupported_pipeline

WAN = register_family(FamilyAdapter(
    name="wan",
    pipeline_classes=("WanPipeline", "WanImageToVideoPipeline", "WanVideoToVideoPipeline"),
    denoiser_classes=("WanTransformer3DModel",),
    denoiser_attributes=("transformer", "transformer_2"),
    block_attributes=("blocks",),
    conditioned_channels=True,
    self_attention=("attn1",),
    notes="Wan 2.1 and 2.2 (T2V, I2V, TI2V); Wan 2.2's two experts are both hooked, each with its own cache.",
))

SKYREELS_V2 = register_family(FamilyAdapter(
    name="skyreels-v2",
    pipeline_classes=("SkyReelsV2Pipeline", "SkyReelsV2ImageToVideoPipeline"),
    denoiser_classes=("SkyReelsV2Transformer3DModel",),
    block_attributes=("blocks",),
    conditioned_channels=True,
    self_attention=("attn1",),
))

HUNYUAN_VIDEO = register_family(FamilyAdapter(
    name="hunyuan-video",
    pipeline_classes=("HunyuanVideoPipeline",),
    denoiser_classes=("HunyuanVideoTransformer3DModel",),
    block_attributes=("transformer_blocks", "single_transformer_blocks"),
    self_attention=("attn",),
    joint_text="suffix",
    notes="guidance is embedded (one branch) unless true_cfg_scale > 1.",
))

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
    notes="cond and uncond are batched in one call (uncond first); latents are [B, F, C, H, W].",
))

LTX_VIDEO = register_family(FamilyAdapter(
    name="ltx-video",
    pipeline_classes=("LTXPipeline", "LTXImageToVideoPipeline"),
    denoiser_classes=("LTXVideoTransformer3DModel",),
    block_attributes=("transformer_blocks",),
    batched_cfg=True,
    batched_branch_order=("uncond", "cond"),
    channel_dim=-1,
    self_attention=("attn1",),
    notes="cond and uncond are batched in one call (uncond first); latents are packed tokens [B, S, C].",
))

FLUX = register_family(FamilyAdapter(
    name="flux",
    pipeline_classes=("FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline"),
    denoiser_classes=("FluxTransformer2DModel",),
    block_attributes=("transformer_blocks", "single_transformer_blocks"),
    channel_dim=-1,
    self_attention=("attn",),
    joint_text="prefix",
    notes="image model; guidance is embedded (one branch) unless true_cfg_scale > 1.",
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
register_unsupported_pipeline(
    "HunyuanVideoFramepackPipeline", "it runs one denoising loop per history section; not supported yet"
)
