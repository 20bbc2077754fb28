"""The reference models' components (VAE, caption tokenizer, text encoder, transformers, scheduler), their
call settings, and saving them as diffusers pipelines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diffusers import AutoencoderKLWan, SkyReelsV2Transformer3DModel, UniPCMultistepScheduler, WanTransformer3DModel
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

from ..saving import DEFAULTS_FILE, save_component
from .captions import vocabulary_words

SIZE = 64  # frame height and width
NUM_FRAMES = 17  # training clip length (1 + 4k for the Wan VAE)
Z_DIM = 8
TEXT_DIM = 64
TEMPORAL = 4  # VAE temporal compression (spatial: 4 too)
FLOW_SHIFT = 3.0
PATCH = 2  # spatial patch of the shipped models, in latent pixels (64 tokens per latent frame)
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
MAX_CAPTION_TOKENS = 16  # longest caption of the grammar (10 words + </s>) with room to spare

T2V_DEFAULTS: dict[str, Any] = {"height": SIZE, "width": SIZE, "num_frames": NUM_FRAMES, "num_inference_steps": 30,
                                "guidance_scale": 5.0, "negative_prompt": ""}
# Asynchronous diffusion forcing: each latent frame lags the previous one by ``ar_step`` sampler steps, so
# earlier frames settle first and later ones are drawn given them (toy-df keeps the motion far more often so).
DF_DEFAULTS: dict[str, Any] = {**T2V_DEFAULTS, "num_frames": 41, "extra": {
    "base_num_frames": NUM_FRAMES, "overlap_history": 9, "addnoise_condition": 0, "ar_step": 3}}
# Block-causal diffusion forcing (toy-ar): blocks of 2 latent frames, windows of 21 frames (6 latent frames, 3
# blocks), each carrying a 1-block clean prefix (5 frames) over from the last. 45 frames = 12 latent frames = 6 blocks.
AR_DEFAULTS: dict[str, Any] = {**T2V_DEFAULTS, "num_frames": 45, "extra": {
    "causal_block_size": 2, "base_num_frames": 21, "overlap_history": 5, "ar_step": 3, "addnoise_condition": 0}}


def latent_frames(num_frames: int) -> int:
    return (num_frames - 1) // TEMPORAL + 1


def build_vae() -> AutoencoderKLWan:
    """Causal 3D VAE, 4× temporal and 4× spatial compression, 8 latent channels."""
    return AutoencoderKLWan(base_dim=24, z_dim=Z_DIM, dim_mult=[1, 2, 2], num_res_blocks=1,
                            temperal_downsample=[True, True], latents_mean=[0.0] * Z_DIM, latents_std=[1.0] * Z_DIM,
                            scale_factor_temporal=TEMPORAL, scale_factor_spatial=4)


def vocabulary() -> dict[str, int]:
    """Special tokens, then the grammar's words."""
    return {token: index for index, token in enumerate(list(SPECIAL_TOKENS) + vocabulary_words())}


def word_level_backend(vocab: dict[str, int], spellings: dict[str, str] | None = None) -> Tokenizer:
    """A word-level ``tokenizers`` model over ``vocab``: lower-cased, each ``spellings`` word replaced by its
    entry, punctuation dropped, split on whitespace; other words map to ``<unk>``."""
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    steps = [normalizers.Lowercase()]
    steps += [normalizers.Replace(Regex(rf"\b{word}\b"), spelled) for word, spelled in (spellings or {}).items()]
    backend.normalizer = normalizers.Sequence([*steps, normalizers.Replace(Regex(r"[^a-z\s]"), " ")])
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return backend


def build_tokenizer() -> PreTrainedTokenizerFast:
    """The caption tokenizer, with T5 conventions (``</s>`` appended) so Wan pipelines call it like UMT5's."""
    backend = word_level_backend(vocabulary())
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", EOS_ID)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=512)


def build_text_encoder() -> UMT5EncoderModel:
    """Two-layer UMT5 encoder over the caption vocabulary."""
    return UMT5EncoderModel(UMT5Config(
        vocab_size=len(vocabulary()), d_model=TEXT_DIM, d_kv=16, d_ff=4 * TEXT_DIM, num_layers=2, num_heads=4,
        relative_attention_num_buckets=16, relative_attention_max_distance=32, dropout_rate=0.0,
        pad_token_id=PAD_ID, eos_token_id=EOS_ID, decoder_start_token_id=PAD_ID))


def build_transformer(patch: int = PATCH,
                      block: int | None = None) -> WanTransformer3DModel | SkyReelsV2Transformer3DModel:
    """Wan-style DiT (6 layers, 4 heads × 32, ``patch``² latent pixels a token); with ``block``, the same backbone
    with per-frame timesteps (SkyReels-V2's), block-causal over ``block`` latent frames above 1 (toy-ar)."""
    config = dict(patch_size=(1, patch, patch), num_attention_heads=4, attention_head_dim=32, in_channels=Z_DIM,
                  out_channels=Z_DIM, text_dim=TEXT_DIM, freq_dim=64, ffn_dim=512, num_layers=6, rope_max_seq_len=64)
    if block is None:
        return WanTransformer3DModel(**config)
    return SkyReelsV2Transformer3DModel(**config, num_frame_per_block=block)


def build_scheduler(flow_shift: float = FLOW_SHIFT) -> UniPCMultistepScheduler:
    """The Wan 2.1 scheduler: UniPC on flow-matching sigmas with a shift."""
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=flow_shift,
                                   num_train_timesteps=1000)


def save_pipeline(pipeline_class: type, folder: Path, defaults: dict[str, Any], flow_shift: float,
                  **components: Any) -> None:
    """The pipeline of ``components`` (vae, text_encoder, transformer) with the caption tokenizer and the
    scheduler, saved with its recommended call settings in ``mmcache_defaults.json``."""
    pipe = pipeline_class(tokenizer=build_tokenizer(), scheduler=build_scheduler(flow_shift), **components)
    save_component(pipe, folder)
    (Path(folder) / DEFAULTS_FILE).write_text(json.dumps(defaults, indent=2) + "\n")
