"""Which of a pipeline's own cached tokens attention reads: FlowCache's score as a selection policy.

For a pipeline that keeps its own KV cache of earlier chunks (AnyFlow FAR), a layer's self-attention
call sees keys ``[cached tokens, current chunk (+ padding)]`` and queries of the current chunk. When
more than ``budget`` tokens are cached, each head reads only its ``budget`` best cached tokens by
``λ·a − (1 − λ)·r`` (``scoring``), scored with the current chunk's queries; the current chunk's own
keys are always read. The pipeline allocates and fills its cache itself, so this saves attention
work, not memory.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from .attention import attend
from .router import Compression
from .scoring import gather_tokens, importance_minus_redundancy, top_per_head


class CacheSelectionRouter:
    """Receives one layer's attention calls (``dispatch``: [B, S, H, D] tensors, post-RoPE)."""

    def __init__(self, selection: Compression) -> None:
        self.selection = selection
        self.tokens_cached = 0
        self.tokens_read = 0

    def dispatch(self, original: Callable[..., torch.Tensor], query: torch.Tensor, key: torch.Tensor,
                 value: torch.Tensor, attn_mask: Any = None, dropout_p: float = 0.0, is_causal: bool = False,
                 scale: float | None = None, *args: Any, **kwargs: Any) -> torch.Tensor:
        cached = key.shape[1] - query.shape[1]
        if attn_mask is not None or cached <= 0:  # a cache-filling or first-chunk call: nothing to select
            return original(query, key, value, attn_mask, dropout_p, is_causal, scale, *args, **kwargs)
        self.tokens_cached += cached
        if cached <= self.selection.budget:
            self.tokens_read += cached
            return original(query, key, value, attn_mask, dropout_p, is_causal, scale, *args, **kwargs)
        q, k, v = (tensor.transpose(1, 2) for tensor in (query, key, value))  # [B, H, S, D]
        real = q.abs().sum(dim=(0, 1, 3)) > 0  # the pipeline pads queries with zero rows
        scores = importance_minus_redundancy(q[:, :, real], k[:, :, :cached], self.selection.importance_weight,
                                             self.selection.pool_kernel)
        keep = top_per_head(scores, self.selection.budget)
        self.tokens_read += keep.shape[-1]
        keys = [gather_tokens(k[:, :, :cached], keep), k[:, :, cached:]]
        values = [gather_tokens(v[:, :, :cached], keep), v[:, :, cached:]]
        return attend(q, keys, values, None, scale).transpose(1, 2)

    def sdpa(self, original: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> torch.Tensor:
        return original(*args, **kwargs)
