"""Architectures of the reference models' components and the video geometry they are trained for."""

from __future__ import annotations

from typing import Any

from diffusers import AutoencoderKLWan, SkyReelsV2Transformer3DModel, UniPCMultistepScheduler, WanTransformer3DModel
from transformers import UMT5Config, UMT5EncoderModel

from .tokenizer import EOS_ID, PAD_ID, vocabulary

SIZE = 64  # frame height and width
NUM_FRAMES = 17  # training clip length (1 + 4k for the Wan VAE)
Z_DIM = 8
TEXT_DIM = 64
SPATIAL = 4  # VAE spatial compression
TEMPORAL = 4  # VAE temporal compression
FLOW_SHIFT = 3.0


def latent_frames(num_frames: int) -> int:
    return (num_frames - 1) // TEMPORAL + 1


def vae_config(latents_mean: list[float] | None = None, latents_std: list[float] | None = None) -> dict[str, Any]:
    """Causal 3D VAE, 4× temporal and 4× spatial compression, 8 latent channels."""
    return dict(
        base_dim=24, z_dim=Z_DIM, dim_mult=[1, 2, 2], num_res_blocks=1, temperal_downsample=[True, True],
        latents_mean=latents_mean or [0.0] * Z_DIM, latents_std=latents_std or [1.0] * Z_DIM,
        scale_factor_temporal=TEMPORAL, scale_factor_spatial=SPATIAL,
    )


def build_vae(**overrides: Any) -> AutoencoderKLWan:
    return AutoencoderKLWan(**{**vae_config(), **overrides})


def text_encoder_config() -> UMT5Config:
    """Two-layer UMT5 encoder over the caption vocabulary."""
    return UMT5Config(
        vocab_size=len(vocabulary()), d_model=TEXT_DIM, d_kv=16, d_ff=4 * TEXT_DIM, num_layers=2, num_heads=4,
        relative_attention_num_buckets=16, relative_attention_max_distance=32, dropout_rate=0.0,
        pad_token_id=PAD_ID, eos_token_id=EOS_ID, decoder_start_token_id=PAD_ID,
    )


def build_text_encoder() -> UMT5EncoderModel:
    return UMT5EncoderModel(text_encoder_config())


PATCH = 2  # spatial patch of the shipped models, in latent pixels (64 tokens per latent frame)
PATCH_CHOICES = (1, 2, 4)  # patches that divide the 16×16 latent frame


def transformer_config(patch: int = PATCH) -> dict[str, Any]:
    """Wan-style DiT: 6 layers, 4 heads × 32, patches of ``patch``² latent pixels (2: 320 tokens per 17-frame
    clip, 4: 80)."""
    return dict(
        patch_size=(1, patch, patch), num_attention_heads=4, attention_head_dim=32, in_channels=Z_DIM, out_channels=Z_DIM,
        text_dim=TEXT_DIM, freq_dim=64, ffn_dim=512, num_layers=6, rope_max_seq_len=64,
    )


def build_t2v_transformer(patch: int = PATCH) -> WanTransformer3DModel:
    return WanTransformer3DModel(**transformer_config(patch))


def build_df_transformer(patch: int = PATCH, block: int = 1) -> SkyReelsV2Transformer3DModel:
    """Same backbone as toy-t2v, as a SkyReels-V2 transformer (per-frame timesteps): bidirectional for ``block``
    1 (toy-df), else block-causal over blocks of ``block`` latent frames anchored at the window start (toy-ar)."""
    return SkyReelsV2Transformer3DModel(**transformer_config(patch), num_frame_per_block=block)


def build_scheduler(flow_shift: float = FLOW_SHIFT) -> UniPCMultistepScheduler:
    """The Wan 2.1 scheduler: UniPC on flow-matching sigmas with a shift."""
    return UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=flow_shift, num_train_timesteps=1000,
    )
