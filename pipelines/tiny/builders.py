"""Tiny random-weight instances of every supported pipeline family, built from configs.

They are the real diffusers pipeline classes with a few thousand parameters per component, so the
hook engine and every cache method are exercised through exactly the code paths users run, on a
CPU, in seconds. Weights are random: these pipelines say nothing about quality.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from diffusers import (
    AnyFlowFARPipeline,
    AnyFlowFARTransformer3DModel,
    FlowMapEulerDiscreteScheduler,
    AutoencoderKL,
    AutoencoderKLCogVideoX,
    AutoencoderKLHunyuanVideo,
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    CogVideoXDDIMScheduler,
    CogVideoXPipeline,
    CogVideoXTransformer3DModel,
    DiffusionPipeline,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
    HunyuanVideoPipeline,
    HunyuanVideoTransformer3DModel,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    SkyReelsV2DiffusionForcingPipeline,
    SkyReelsV2Pipeline,
    SkyReelsV2Transformer3DModel,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)

from . import text

TEXT_DIM = 32


def _wan_vae() -> AutoencoderKLWan:
    return AutoencoderKLWan(
        base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True],
        latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    )


def _wan_transformer(in_channels: int = 4, out_channels: int = 4, image_dim: int | None = None,
                     head_dim: int = 16) -> WanTransformer3DModel:
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=head_dim, in_channels=in_channels,
        out_channels=out_channels, text_dim=TEXT_DIM, freq_dim=32, ffn_dim=64, num_layers=2,
        image_dim=image_dim, added_kv_proj_dim=TEXT_DIM if image_dim else None, rope_max_seq_len=32,
    )


def _flow_scheduler(shift: float = 3.0) -> FlowMatchEulerDiscreteScheduler:
    return FlowMatchEulerDiscreteScheduler(shift=shift)


def build_wan21_t2v(head_dim: int = 16) -> WanPipeline:
    """Wan 2.1 text-to-video: one transformer, UMT5 text encoder, Wan VAE."""
    return WanPipeline(
        tokenizer=text.character_tokenizer(), text_encoder=text.tiny_umt5(TEXT_DIM), vae=_wan_vae(),
        scheduler=_flow_scheduler(), transformer=_wan_transformer(head_dim=head_dim),
    )


def build_wan22_t2v(head_dim: int = 16) -> WanPipeline:
    """Wan 2.2 A14B-style text-to-video: high-noise and low-noise experts switched at a boundary."""
    return WanPipeline(
        tokenizer=text.character_tokenizer(), text_encoder=text.tiny_umt5(TEXT_DIM), vae=_wan_vae(),
        scheduler=_flow_scheduler(), transformer=_wan_transformer(head_dim=head_dim), transformer_2=_wan_transformer(),
        boundary_ratio=0.875,
    )


def _clip_vision() -> tuple[Any, Any]:
    from transformers import CLIPVisionConfig, CLIPVisionModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    config = CLIPVisionConfig(
        hidden_size=TEXT_DIM, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=32, patch_size=8, projection_dim=TEXT_DIM,
    )
    processor = CLIPImageProcessorPil(crop_size=32, size={"shortest_edge": 32})
    return CLIPVisionModel(config).eval(), processor


def build_wan21_i2v(head_dim: int = 16) -> WanImageToVideoPipeline:
    """Wan 2.1 image-to-video: CLIP image embeddings plus the first frame's latents as extra channels."""
    image_encoder, image_processor = _clip_vision()
    return WanImageToVideoPipeline(
        tokenizer=text.character_tokenizer(), text_encoder=text.tiny_umt5(TEXT_DIM), vae=_wan_vae(),
        scheduler=_flow_scheduler(), image_processor=image_processor, image_encoder=image_encoder,
        transformer=_wan_transformer(in_channels=4 + 4 + 4, image_dim=TEXT_DIM, head_dim=head_dim),
    )


def build_wan22_i2v(head_dim: int = 16) -> WanImageToVideoPipeline:
    """Wan 2.2 A14B-style image-to-video: two experts, no CLIP image encoder."""
    return WanImageToVideoPipeline(
        tokenizer=text.character_tokenizer(), text_encoder=text.tiny_umt5(TEXT_DIM), vae=_wan_vae(),
        scheduler=_flow_scheduler(), transformer=_wan_transformer(in_channels=12, head_dim=head_dim),
        transformer_2=_wan_transformer(in_channels=12, head_dim=head_dim), boundary_ratio=0.9,
    )


def build_skyreels_v2_t2v(head_dim: int = 16) -> SkyReelsV2Pipeline:
    """SkyReels-V2 text-to-video (Wan-like transformer, UniPC scheduler)."""
    transformer = SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=head_dim, in_channels=4, out_channels=4,
        text_dim=TEXT_DIM, freq_dim=32, ffn_dim=64, num_layers=2, rope_max_seq_len=32,
    )
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    return SkyReelsV2Pipeline(
        tokenizer=text.character_tokenizer(), text_encoder=text.tiny_umt5(TEXT_DIM), transformer=transformer,
        vae=_wan_vae(), scheduler=scheduler,
    )


def _skyreels_df(head_dim: int, causal_block_size: int) -> SkyReelsV2DiffusionForcingPipeline:
    transformer = SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=head_dim, in_channels=4, out_channels=4,
        text_dim=TEXT_DIM, freq_dim=32, ffn_dim=64, num_layers=2, rope_max_seq_len=32,
        num_frame_per_block=causal_block_size,
    )
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    return SkyReelsV2DiffusionForcingPipeline(
        tokenizer=text.character_tokenizer(), text_encoder=text.tiny_umt5(TEXT_DIM), transformer=transformer,
        vae=_wan_vae(), scheduler=scheduler,
    )


def build_skyreels_v2_df(head_dim: int = 16) -> SkyReelsV2DiffusionForcingPipeline:
    """SkyReels-V2 diffusion forcing with a bidirectional transformer (one frame per block, like toy-df)."""
    return _skyreels_df(head_dim, causal_block_size=1)


def build_skyreels_v2_df_causal(head_dim: int = 16) -> SkyReelsV2DiffusionForcingPipeline:
    """SkyReels-V2 diffusion forcing with a block-causal transformer (blocks of 2 latent frames, like toy-ar)."""
    return _skyreels_df(head_dim, causal_block_size=2)


def build_anyflow_far(head_dim: int = 16) -> AnyFlowFARPipeline:
    """AnyFlow FAR: a causal Wan denoising chunk by chunk (1 + 2 + 2 + 2 + 2 latent frames) against its KV cache."""
    transformer = AnyFlowFARTransformer3DModel(
        patch_size=(1, 2, 2), compressed_patch_size=(1, 4, 4), full_chunk_limit=3, num_attention_heads=2,
        attention_head_dim=head_dim, in_channels=4, out_channels=4, text_dim=TEXT_DIM, freq_dim=32, ffn_dim=64,
        num_layers=2, rope_max_seq_len=32, chunk_partition=(1, 2, 2, 2, 2),
    )
    return AnyFlowFARPipeline(tokenizer=text.character_tokenizer(), text_encoder=text.tiny_umt5(TEXT_DIM),
                              transformer=transformer, vae=_wan_vae(), scheduler=FlowMapEulerDiscreteScheduler())


def build_hunyuan_video(head_dim: int = 16) -> HunyuanVideoPipeline:
    """HunyuanVideo: dual- and single-stream blocks, LLaMA + CLIP text encoders, embedded guidance."""
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=head_dim, num_layers=1,
        num_single_layers=2, num_refiner_layers=1, patch_size=1, patch_size_t=1, text_embed_dim=TEXT_DIM,
        pooled_projection_dim=TEXT_DIM, rope_axes_dim=(4, head_dim // 2 - 2, head_dim // 2 - 2),
    )
    vae = AutoencoderKLHunyuanVideo(
        latent_channels=4, block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4,
        spatial_compression_ratio=8, temporal_compression_ratio=4, mid_block_add_attention=False,
    )
    return HunyuanVideoPipeline(
        text_encoder=text.tiny_llama(TEXT_DIM), tokenizer=text.character_tokenizer(model_max_length=256),
        transformer=transformer, vae=vae, scheduler=_flow_scheduler(7.0),
        text_encoder_2=text.tiny_clip_text(TEXT_DIM, TEXT_DIM), tokenizer_2=text.character_tokenizer(77),
    )


def build_cogvideox(head_dim: int = 16) -> CogVideoXPipeline:
    """CogVideoX: cond and uncond batched into one denoiser call."""
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=head_dim, in_channels=4, out_channels=4, time_embed_dim=16,
        text_embed_dim=TEXT_DIM, num_layers=2, sample_width=8, sample_height=8, sample_frames=9,
        patch_size=2, temporal_compression_ratio=4, max_text_seq_length=16,
    )
    vae = AutoencoderKLCogVideoX(
        down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1, norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    return CogVideoXPipeline(
        tokenizer=text.character_tokenizer(), text_encoder=text.tiny_t5(TEXT_DIM), vae=vae,
        transformer=transformer, scheduler=CogVideoXDDIMScheduler(timestep_spacing="trailing"),
    )


def build_ltx_video(head_dim: int = 16) -> LTXPipeline:
    """LTX-Video: packed token latents, cond and uncond batched into one denoiser call."""
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=2,
        attention_head_dim=head_dim, cross_attention_dim=2 * head_dim, num_layers=2, caption_channels=TEXT_DIM,
    )
    vae = AutoencoderKLLTXVideo(
        latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False), decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4, upsample_factor=(1,) * 4,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    return LTXPipeline(
        scheduler=_flow_scheduler(), vae=vae, text_encoder=text.tiny_t5(TEXT_DIM),
        tokenizer=text.character_tokenizer(), transformer=transformer,
    )


def build_flux(head_dim: int = 16) -> FluxPipeline:
    """Flux (image): double- and single-stream blocks, CLIP + T5 text encoders."""
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=2, attention_head_dim=head_dim,
        num_attention_heads=2, joint_attention_dim=TEXT_DIM, pooled_projection_dim=TEXT_DIM,
        axes_dims_rope=(4, head_dim // 2 - 2, head_dim // 2 - 2),
    )
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(8, 8), layers_per_block=1, latent_channels=4, norm_num_groups=2,
        sample_size=32, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0, scaling_factor=1.0,
    )
    return FluxPipeline(
        scheduler=_flow_scheduler(), vae=vae, text_encoder=text.tiny_clip_text(TEXT_DIM, TEXT_DIM),
        tokenizer=text.character_tokenizer(77), text_encoder_2=text.tiny_t5(TEXT_DIM),
        tokenizer_2=text.character_tokenizer(), transformer=transformer,
    )


TINY_BUILDERS: dict[str, Callable[..., DiffusionPipeline]] = {
    "wan2.1-t2v": build_wan21_t2v,
    "wan2.1-i2v": build_wan21_i2v,
    "wan2.2-t2v": build_wan22_t2v,
    "wan2.2-i2v": build_wan22_i2v,
    "skyreels-v2-t2v": build_skyreels_v2_t2v,
    "skyreels-v2-df": build_skyreels_v2_df,
    "skyreels-v2-df-causal": build_skyreels_v2_df_causal,
    "hunyuan-video": build_hunyuan_video,
    "cogvideox": build_cogvideox,
    "ltx-video": build_ltx_video,
    "flux": build_flux,
    "anyflow-far": build_anyflow_far,
}


# pipelines that run several denoising loops per call (one per window or chunk of frames)
WINDOWED = ("skyreels-v2-df", "skyreels-v2-df-causal", "anyflow-far")
ONE_LOOP = tuple(name for name in TINY_BUILDERS if name not in WINDOWED)


def build_tiny_pipeline(name: str, seed: int = 0, head_dim: int = 16) -> DiffusionPipeline:
    """Build the tiny random-weight pipeline ``name`` (see ``TINY_BUILDERS``) with a fixed seed.

    ``head_dim`` sets the attention head size (the sparse-attention kernels need 32, 64 or 128).
    """
    if name not in TINY_BUILDERS:
        raise ValueError(f"Unknown tiny pipeline {name!r}; choose one of {sorted(TINY_BUILDERS)}.")
    torch.manual_seed(seed)
    pipe = TINY_BUILDERS[name](head_dim=head_dim)
    pipe.set_progress_bar_config(disable=True)
    return pipe
