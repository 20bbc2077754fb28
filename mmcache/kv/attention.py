"""Attention of some chunks' queries over stored and fresh keys, with a chunk-level mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def chunk_mask(query_chunks: torch.Tensor, key_chunks: torch.Tensor, causal: bool) -> torch.Tensor | None:
    """``[Q, K]`` bool (True = attend): a query sees keys of its chunk and earlier ones when ``causal``.

    Keys tagged -1 (a compressed segment of earlier chunks) are seen by every query. ``None`` when
    every query sees every key.
    """
    if not causal:
        return None
    return key_chunks.unsqueeze(0) <= query_chunks.unsqueeze(1)


def attend(queries: torch.Tensor, keys: list[torch.Tensor], values: list[torch.Tensor],
           mask: torch.Tensor | None, scale: float | None = None) -> torch.Tensor:
    """``queries [B, H, Q, D]`` over the concatenated ``keys``/``values`` parts (``[B, H, Tᵢ, D]``)."""
    return F.scaled_dot_product_attention(queries, torch.cat(keys, dim=2), torch.cat(values, dim=2), attn_mask=mask,
                                          scale=scale)
