"""Offline tokenizers and tiny text encoders for random-weight test pipelines.

Real pipelines load their tokenizers from a model hub. Test machines cannot, so the tiny pipelines
use a character-level tokenizer built in code (printable ASCII plus special tokens), wrapped as a
``PreTrainedTokenizerFast`` so that the diffusers pipelines call it exactly like a T5/CLIP/LLaMA
tokenizer.
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    LlamaConfig,
    LlamaModel,
    PreTrainedTokenizerFast,
    T5Config,
    T5EncoderModel,
    UMT5Config,
    UMT5EncoderModel,
)

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>", "<s>")
PAD_ID, EOS_ID, UNK_ID, BOS_ID = range(4)


def character_vocabulary() -> dict[str, int]:
    """Special tokens first, then every printable ASCII character."""
    symbols = list(SPECIAL_TOKENS) + sorted(set(string.printable) - set("\t\n\r\x0b\x0c"))
    return {symbol: index for index, symbol in enumerate(symbols)}


def character_tokenizer(model_max_length: int = 64) -> PreTrainedTokenizerFast:
    """A fast tokenizer mapping each character to one id; appends ``</s>`` like T5."""
    vocab = character_vocabulary()
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    from tokenizers.processors import TemplateProcessing

    backend.post_processor = TemplateProcessing(single="$A </s>", special_tokens=[("</s>", EOS_ID)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<s>",
        model_max_length=model_max_length,
    )


VOCAB_SIZE = len(character_vocabulary())


def tiny_umt5(d_model: int = 32) -> UMT5EncoderModel:
    """Two-layer UMT5 encoder (Wan, SkyReels-V2)."""
    config = UMT5Config(
        vocab_size=VOCAB_SIZE, d_model=d_model, d_kv=16, d_ff=2 * d_model, num_layers=2, num_heads=2,
        relative_attention_num_buckets=8, pad_token_id=PAD_ID, eos_token_id=EOS_ID,
    )
    return UMT5EncoderModel(config).eval()


def tiny_t5(d_model: int = 32) -> T5EncoderModel:
    """Two-layer T5 encoder (CogVideoX, LTX-Video, Flux)."""
    config = T5Config(
        vocab_size=VOCAB_SIZE, d_model=d_model, d_kv=16, d_ff=2 * d_model, num_layers=2, num_heads=2,
        relative_attention_num_buckets=8, pad_token_id=PAD_ID, eos_token_id=EOS_ID,
    )
    return T5EncoderModel(config).eval()


def tiny_clip_text(hidden_size: int = 32, projection_dim: int = 32) -> CLIPTextModel:
    """Two-layer CLIP text encoder (Flux, HunyuanVideo pooled text)."""
    config = CLIPTextConfig(
        vocab_size=VOCAB_SIZE, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
        projection_dim=projection_dim, pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
    )
    return CLIPTextModel(config).eval()


def tiny_llama(hidden_size: int = 32) -> LlamaModel:
    """Two-layer LLaMA (HunyuanVideo's main text encoder)."""
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
        pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
    )
    return LlamaModel(config).eval()
