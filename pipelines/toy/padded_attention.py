"""Training-time cross-attention that sees 512 padded text positions at the cost of a few.

The pipelines pad caption states with zeros to 512 positions, and all padding positions give the
same key and value. Attending to ``n`` identical keys equals attending to one of them with
``log(n)`` added to its logit, so training feeds the short caption states plus one zero "padding
representative" and adds ``log(512 - short_length)`` to that key's logit: the same function as the
pipeline's 512-position input, about 20× cheaper on a CPU. Only used while training; the saved
models keep diffusers' own processors.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .text import PIPELINE_SEQUENCE_LENGTH


class PaddedCrossAttnProcessor:
    """Cross-attention processor for Wan / SkyReels-V2 ``attn2`` layers (text only, no image branch).

    ``encoder_hidden_states`` must end with one zero vector standing for
    ``sequence_length - (length - 1)`` padding positions.
    """

    def __init__(self, sequence_length: int = PIPELINE_SEQUENCE_LENGTH) -> None:
        self.sequence_length = sequence_length

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor,
                 attention_mask: torch.Tensor | None = None, rotary_emb: Any = None) -> torch.Tensor:
        if encoder_hidden_states is None or attn.add_k_proj is not None:
            raise ValueError("PaddedCrossAttnProcessor handles text cross-attention only.")
        query = attn.norm_q(attn.to_q(hidden_states))
        key = attn.norm_k(attn.to_k(encoder_hidden_states))
        value = attn.to_v(encoder_hidden_states)
        b, lq, _ = query.shape
        lk = key.shape[1]
        query = query.view(b, lq, attn.heads, -1).transpose(1, 2)
        key = key.view(b, lk, attn.heads, -1).transpose(1, 2)
        value = value.view(b, lk, attn.heads, -1).transpose(1, 2)
        represented = self.sequence_length - (lk - 1)
        bias = torch.zeros(lk, dtype=query.dtype, device=query.device)
        bias[-1] = math.log(represented)
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=bias.view(1, 1, 1, lk))
        out = out.transpose(1, 2).flatten(2, 3).type_as(query)
        return attn.to_out[1](attn.to_out[0](out))


def use_padded_cross_attention(transformer: torch.nn.Module) -> dict[str, Any]:
    """Install the processor on every ``attn2``; returns the previous processors for ``restore``."""
    previous = {}
    for name, module in transformer.named_modules():
        if name.endswith("attn2") and hasattr(module, "set_processor"):
            previous[name] = module.processor
            module.set_processor(PaddedCrossAttnProcessor())
    if not previous:
        raise ValueError(f"{type(transformer).__name__} has no attn2 layers.")
    return previous


def restore_processors(transformer: torch.nn.Module, previous: dict[str, Any]) -> None:
    modules = dict(transformer.named_modules())
    for name, processor in previous.items():
        modules[name].set_processor(processor)


def short_text_states(states: torch.Tensor) -> torch.Tensor:
    """Caption states ``[B, L, D]`` (zeros after each caption) plus the zero padding representative."""
    return torch.cat([states, states.new_zeros(states.shape[0], 1, states.shape[2])], dim=1)
