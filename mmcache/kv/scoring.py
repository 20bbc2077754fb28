"""How cached tokens score, and which stay: importance minus redundancy, top-k per head.

FlowCache's score of a cached key j in one head (arXiv 2602.10825):
``score_j = λ·a_j − (1 − λ)·r_j`` with ``a`` the attention the current queries pay to j (softmax
over the cached keys, averaged over queries, max-pooled along the token order) and ``r`` how
redundant j is (softmax over tokens of its mean cosine similarity to the other keys).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pooled_attention(queries: torch.Tensor, keys: torch.Tensor, kernel: int) -> torch.Tensor:
    """``a [B, H, L]``: mean over queries of softmax(q·kᵀ/√d) over the L keys, max-pooled (odd ``kernel``).

    ``queries [B, H, Q, D]``, ``keys [B, H, L, D]``; computed in float32.
    """
    scale = queries.shape[-1] ** -0.5
    weights = torch.softmax(torch.matmul(queries.float(), keys.float().transpose(-1, -2)) * scale, dim=-1)
    attention = weights.mean(dim=2)
    if kernel > 1:
        batch, heads, length = attention.shape
        attention = F.max_pool1d(attention.reshape(batch * heads, 1, length), kernel, stride=1,
                                 padding=kernel // 2).reshape(batch, heads, length)
    return attention


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
    """``tensor [B, H, L, D]`` at per-head token ``index [B, H, K]`` → ``[B, H, K, D]``."""
    return tensor.gather(2, index.unsqueeze(-1).expand(*index.shape, tensor.shape[-1]))
