"""How cached tokens score, and which stay: attention received, importance minus redundancy, top-k per head.

Attention received (``attention_received``): the softmax weight each key gets from a set of queries
under the model's mask, summed over the queries; the KV methods of vision-language models score
with it (ZipVL's probe queries, PrefixKV's every prefill query, SnapKV's observation window).

FlowCache's score of a cached key j in one head (arXiv 2602.10825):
``score_j = λ·a_j − (1 − λ)·r_j`` with ``a`` the attention the current queries pay to j (softmax
over the cached keys, averaged over queries, max-pooled along the token order) and ``r`` how
redundant j is (softmax over tokens of its mean cosine similarity to the other keys).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pooled_attention(queries: torch.Tensor, keys: torch.Tensor, kernel: int, chunk: int = 256) -> torch.Tensor:
    """``a [B, H, L]``: mean over queries of softmax(q·kᵀ/√d) over the L keys, max-pooled (odd ``kernel``).

    ``queries [B, H, Q, D]``, ``keys [B, H, L, D]``; computed in float32, ``chunk`` queries at a time (the
    score matrix never exceeds ``chunk × L`` per head, however many tokens a video chunk has).
    """
    received = attention_received(queries, keys, lambda start, stop: None, queries.shape[-1] ** -0.5, chunk)
    return pool_tokens(received / queries.shape[2], kernel, "max")


def pool_tokens(scores: torch.Tensor, kernel: int, kind: str = "max") -> torch.Tensor:
    """``scores [B, H, L]`` pooled along the token order with an odd ``kernel`` (``"max"`` or ``"avg"``), same length."""
    if kernel <= 1:
        return scores
    batch, heads, length = scores.shape
    flat = scores.reshape(batch * heads, 1, length)
    if kind == "max":
        pooled = F.max_pool1d(flat, kernel, stride=1, padding=kernel // 2)
    else:
        pooled = F.avg_pool1d(flat, kernel, stride=1, padding=kernel // 2, count_include_pad=False)
    return pooled.reshape(batch, heads, length)


def attention_weights(queries: torch.Tensor, keys: torch.Tensor, allowed: torch.Tensor | None,
                      scale: float) -> torch.Tensor:
    """``softmax(q·kᵀ·scale)`` over the allowed keys, float32 ``[B, H, Q, L]``; a row with no allowed key is 0.

    ``queries [B, H, Q, D]``, ``keys [B, Hkv, L, D]`` (Hkv divides H), ``allowed [B, 1 or H, Q, L]`` bool
    (``None``: every key).
    """
    if keys.shape[1] != queries.shape[1]:
        keys = keys.repeat_interleave(queries.shape[1] // keys.shape[1], dim=1)
    scores = torch.matmul(queries.float(), keys.float().transpose(-1, -2)) * scale
    if allowed is None:
        return torch.softmax(scores, dim=-1)
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.nan_to_num(weights, nan=0.0)


def attention_received(queries: torch.Tensor, keys: torch.Tensor, allowed_rows, scale: float,
                       chunk: int = 256) -> torch.Tensor:
    """``[B, H, L]`` float32: attention each key receives, summed over the queries (per query head).

    ``allowed_rows(start, stop)`` gives the ``[B, 1 or H, stop - start, L]`` mask of those query
    rows (or ``None``: every key); the queries are taken ``chunk`` at a time so the score matrix never exceeds ``chunk × L``.
    """
    total = torch.zeros(queries.shape[0], queries.shape[1], keys.shape[2], dtype=torch.float32,
                        device=queries.device)
    keys = keys.float()  # once, not per chunk of queries
    if keys.shape[1] != queries.shape[1]:
        keys = keys.repeat_interleave(queries.shape[1] // keys.shape[1], dim=1)
    for start in range(0, queries.shape[2], chunk):
        stop = min(start + chunk, queries.shape[2])
        total += attention_weights(queries[:, :, start:stop], keys, allowed_rows(start, stop), scale).sum(dim=2)
    return total


def group_heads(scores: torch.Tensor, kv_heads: int) -> torch.Tensor:
    """``[B, H, L]`` per query head → ``[B, Hkv, L]``, the mean over each key/value head's group (GQA)."""
    batch, heads, length = scores.shape
    return scores.view(batch, kv_heads, heads // kv_heads, length).mean(dim=2)


def key_redundancy(keys: torch.Tensor) -> torch.Tensor:
    """``r [B, H, L]``: softmax over tokens of each key's mean cosine similarity to the other keys.

    Uses ``mean_{i≠j} cos(k_i, k_j) = (k̂_j · Σ_i k̂_i − 1) / L`` (the official code's mean over the
    L×L matrix with a zeroed diagonal), so the cost is O(L·d), not O(L²·d).
    """
    unit = F.normalize(keys.float(), dim=-1, eps=1e-8)
    similarity = ((unit * unit.sum(dim=2, keepdim=True)).sum(dim=-1) - 1.0) / keys.shape[2]
    return torch.softmax(similarity, dim=-1)


def importance_minus_redundancy(queries: torch.Tensor, keys: torch.Tensor, weight: float, kernel: int) -> torch.Tensor:
    """FlowCache's per-head score ``λ·a − (1 − λ)·r`` of every cached key, ``[B, H, L]``."""
    return weight * pooled_attention(queries, keys, kernel) - (1.0 - weight) * key_redundancy(keys)


def top_per_head(scores: torch.Tensor, budget: int) -> torch.Tensor:
    """Indices ``[B, H, budget]`` of each head's highest scores, in token order."""
    return scores.topk(min(budget, scores.shape[-1]), dim=-1).indices.sort(dim=-1).values


def gather_tokens(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``tensor [B, H, L, D]`` at per-head token ``index [B, H, K]`` (or ``[B, 1, K]``, the same tokens for every
    head) → ``[B, H, K, D]``."""
    index = index.expand(tensor.shape[0], tensor.shape[1], index.shape[-1])
    return tensor.gather(2, index.unsqueeze(-1).expand(*index.shape, tensor.shape[-1]))


def select_tokens(scores: torch.Tensor, count: int, forced: torch.Tensor | None = None,
                  real: torch.Tensor | None = None) -> torch.Tensor:
    """Indices ``[B, Hk, count]`` (token order) of the ``count`` best tokens per row and head.

    ``scores [B, Hk, L]``; ``forced [B, 1 or Hk, L]`` tokens are kept first (sinks, the last token,
    an observation window); ``real [B, L]`` False marks padding, kept only when nothing else is left.
    """
    ranked = scores.float().clone()
    if real is not None:
        ranked = ranked.masked_fill(~real.unsqueeze(1), float("-inf"))
    if forced is not None:
        ranked = ranked.masked_fill(forced, float("inf"))
    return top_per_head(ranked, count)


def first_real_tokens(real: torch.Tensor, count: int) -> torch.Tensor:
    """``[B, 1, L]`` bool: the first ``count`` real tokens of each row (attention sinks, after any left padding)."""
    rank = real.long().cumsum(dim=-1) - 1
    return (real & (rank < count)).unsqueeze(1)


def last_real_tokens(real: torch.Tensor, count: int) -> torch.Tensor:
    """``[B, 1, L]`` bool: the last ``count`` tokens of each row (the most recent ones)."""
    length = real.shape[-1]
    recent = torch.arange(length, device=real.device) >= length - count
    return (real & recent).unsqueeze(1)
