"""Readable dense attention under an element mask: the core of every PyTorch reference here."""

from __future__ import annotations

import torch


def expand_kv_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """Repeat the k/v heads of ``x [B, Hkv, N, D]`` so that each of the ``heads`` q heads has its own."""
    return x.repeat_interleave(heads // x.shape[1], dim=1)


def masked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ · scale) v where ``allowed`` (broadcastable to ``[B, H, Nq, Nk]``) is True.

    Math in float32 (float64 stays float64). K/V may have fewer heads than q (GQA). A query row with
    no allowed key gets output 0 and log-sum-exp -inf. Returns ``(out, lse)``, both in the math dtype;
    masked scores are never mixed with real ones, so NaN/inf in masked-out keys do not leak.
    """
    math_dtype = torch.float64 if q.dtype == torch.float64 else torch.float32
    q, k, v = (t.to(math_dtype) for t in (q, k, v))
    k, v = expand_kv_heads(k, q.shape[1]), expand_kv_heads(v, q.shape[1])
    allowed = allowed.expand(q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) * scale
    scores = scores.masked_fill(~allowed, float("-inf"))
    lse = torch.logsumexp(scores, dim=-1)
    has_keys = allowed.any(dim=-1, keepdim=True)
    weights = torch.exp(scores - torch.where(has_keys, lse.unsqueeze(-1), 0.0))
    weights = weights.masked_fill(~allowed, 0.0)
    out = torch.einsum("bhqk,bhkd->bhqd", weights, torch.where(allowed.any(dim=2).unsqueeze(-1), v, 0.0))
    return out, lse
