"""Caption → text-encoder states exactly as WanPipeline / SkyReels-V2 pipelines build them.

The pipelines tokenize to ``max_sequence_length`` (512 by default), run the encoder with the
attention mask, then zero every position after the caption. Training reproduces that: the encoder
runs on the short padded ids (outputs at real positions do not depend on padding) and the result is
zero-padded to ``max_sequence_length``.
"""

from __future__ import annotations

import torch
from transformers import UMT5EncoderModel

from .tokenizer import MAX_CAPTION_TOKENS, build_tokenizer

PIPELINE_SEQUENCE_LENGTH = 512


def tokenize(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and attention mask, ``[N, MAX_CAPTION_TOKENS]``."""
    batch = build_tokenizer()(captions, padding="max_length", max_length=MAX_CAPTION_TOKENS, truncation=True,
                              add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    return batch.input_ids, batch.attention_mask


def encode(text_encoder: UMT5EncoderModel, ids: torch.Tensor, mask: torch.Tensor,
           sequence_length: int = PIPELINE_SEQUENCE_LENGTH) -> torch.Tensor:
    """``[B, sequence_length, d_model]`` states, zero after each caption's last token."""
    states = text_encoder(ids, attention_mask=mask).last_hidden_state
    states = states * mask.unsqueeze(-1).to(states.dtype)
    padding = states.new_zeros(states.shape[0], sequence_length - states.shape[1], states.shape[2])
    return torch.cat([states, padding], dim=1)
