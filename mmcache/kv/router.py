"""Self-attention of one layer over chunk-tagged tokens: fresh ones and those kept in the ``KVStore``.

Installed with ``hooks.attention.redirect`` on a denoiser's self-attention modules. For every call
a ``ChunkAttentionPlan`` (set by the method before the forward) says which chunk each query token
belongs to, which chunks' keys come from the store instead of being computed, which fresh chunks
to store, and whether attention is causal across chunks. Without a plan the call runs as it was.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol

import torch

from .attention import attend, chunk_mask
from .scoring import gather_tokens, importance_minus_redundancy, top_per_head
from .store import KVEntry, KVStore


@dataclasses.dataclass
class Compression:
    """Keep at most ``budget`` tokens per head of the finished chunks, scored by importance − redundancy."""

    budget: int
    importance_weight: float
    pool_kernel: int


@dataclasses.dataclass
class ChunkAttentionPlan:
    """What one forward's self-attention calls need (tokens in the order the blocks see them)."""

    branch: str
    query_chunks: torch.Tensor             # [S] chunk of every computed token
    stored_key_chunks: list[int]           # chunks whose K/V come from the store (in order)
    store_chunks: list[int]                # computed chunks whose fresh K/V are kept
    causal: bool
    compressible: list[int] = dataclasses.field(default_factory=list)  # finished chunks a compression may absorb
    compression: Compression | None = None
    query_chunks_for_scores: list[int] = dataclasses.field(default_factory=list)  # whose queries score the cache


class PlanSource(Protocol):
    @property
    def attention_plan(self) -> ChunkAttentionPlan | None: ...


class ChunkAttentionRouter:
    """Receives the attention calls of one layer (``dispatch``: [B, S, H, D] tensors, post-RoPE)."""

    def __init__(self, source: PlanSource, store: KVStore, layer: int) -> None:
        self.source = source
        self.store = store
        self.layer = layer

    def dispatch(self, original: Callable[..., torch.Tensor], query: torch.Tensor, key: torch.Tensor,
                 value: torch.Tensor, attn_mask: torch.Tensor | None = None, *args: Any, **kwargs: Any) -> torch.Tensor:
        plan = self.source.attention_plan
        if plan is None:
            return original(query, key, value, attn_mask, *args, **kwargs)
        q, k, v = (tensor.transpose(1, 2) for tensor in (query, key, value))  # [B, H, S, D]
        cache = self.store.layer(plan.branch, self.layer)
        chunks = plan.query_chunks.to(q.device)
        keys, values, tags = [], [], []
        for chunk, entry in cache.entries(plan.stored_key_chunks):
            keys.append(entry.keys)
            values.append(entry.values)
            tags.append(torch.full((entry.tokens,), chunk, dtype=torch.long, device=q.device))
        keys.append(k)
        values.append(v)
        tags.append(chunks)
        output = attend(q, keys, values, chunk_mask(chunks, torch.cat(tags), plan.causal)).transpose(1, 2)
        for chunk in plan.store_chunks:  # kept for later forwards, which read them instead of computing them
            rows = (chunks == chunk).nonzero().flatten()
            first, stop = int(rows[0]), int(rows[-1]) + 1
            cache.put(chunk, k[:, :, first:stop].clone(), v[:, :, first:stop].clone())
        self.store.note_peak()
        if plan.compression is not None:
            self._compress(plan, cache, q, chunks)
        return output

    def _compress(self, plan: ChunkAttentionPlan, cache: Any, q: torch.Tensor, chunks: torch.Tensor) -> None:
        budget = plan.compression
        held = cache.entries(plan.compressible)
        if sum(entry.tokens for _, entry in held) <= budget.budget:
            return
        rows = torch.cat([(chunks == chunk).nonzero().flatten() for chunk in plan.query_chunks_for_scores])
        keys = torch.cat([entry.keys for _, entry in held], dim=2)
        values = torch.cat([entry.values for _, entry in held], dim=2)
        scores = importance_minus_redundancy(q[:, :, rows], keys, budget.importance_weight, budget.pool_kernel)
        keep = top_per_head(scores, budget.budget)
        cache.absorb(plan.compressible, KVEntry(gather_tokens(keys, keep), gather_tokens(values, keep)))

    def sdpa(self, original: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> torch.Tensor:
        return original(*args, **kwargs)
