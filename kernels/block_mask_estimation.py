"""Cheap block masks for sparse attention from mean-pooled query and key blocks (pure PyTorch).

Importance of key block j for query block i: softmax over j of ``mean(q_i) · mean(k_j) / sqrt(D)``.
Each query block keeps its most important key blocks, by count (``density``) or by softmax mass
(``top_p``); diagonal blocks and given key ranges (e.g. text tokens) are always kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .block_sizes import BLOCK_M, BLOCK_N
from .live_blocks import causal_block_keep
from .masked_attention import expand_kv_heads

TokenRange = tuple[int, int]


def mean_pool_blocks(x: torch.Tensor, block: int) -> torch.Tensor:
    """``[B, H, N, D]`` -> ``[B, H, ceil(N / block), D]`` float32 block means (a short last block too)."""
    batch, heads, length, head_dim = x.shape
    num_blocks = -(-length // block)
    padded = torch.nn.functional.pad(x.float(), (0, 0, 0, num_blocks * block - length))
    sums = padded.reshape(batch, heads, num_blocks, block, head_dim).sum(dim=3)
    counts = torch.clamp(length - torch.arange(num_blocks, device=x.device) * block, max=block)
    return sums / counts[:, None].to(sums.dtype)


def blocks_overlapping(ranges: Sequence[TokenRange], block: int, num_blocks: int, device: torch.device) -> torch.Tensor:
    """``[num_blocks]`` True for blocks holding at least one token of the half-open ``[start, end)`` ranges."""
    starts = torch.arange(num_blocks, device=device) * block
    hit = torch.zeros(num_blocks, dtype=torch.bool, device=device)
    for start, end in ranges:
        hit |= (starts < end) & (starts + block > start)
    return hit


def diagonal_blocks(q_len: int, k_len: int, block_m: int, block_n: int, device: torch.device) -> torch.Tensor:
    """``[nqb, nkb]`` True where the key block holds a query block's own positions (bottom-right aligned)."""
    offset = k_len - q_len
    q_starts = torch.arange(-(-q_len // block_m), device=device) * block_m + offset
    q_ends = torch.clamp(q_starts + block_m, max=k_len)
    k_starts = torch.arange(-(-k_len // block_n), device=device) * block_n
    return (k_starts[None, :] < q_ends[:, None]) & (k_starts[None, :] + block_n > q_starts[:, None])


def keep_top_density(scores: torch.Tensor, forced: torch.Tensor, allowed: torch.Tensor, density: float) -> torch.Tensor:
    """Per row keep ``round(density * nkb)`` blocks (at least 1): the forced ones first, then by score."""
    num_k_blocks = scores.shape[-1]
    budget = min(num_k_blocks, max(1, round(density * num_k_blocks)))
    ranking = scores.masked_fill(forced, float("inf")).masked_fill(~allowed, float("-inf"))
    chosen = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
    chosen.scatter_(-1, ranking.topk(budget, dim=-1).indices, True)
    return (chosen & allowed) | forced


def keep_top_mass(probs: torch.Tensor, forced: torch.Tensor, allowed: torch.Tensor, top_p: float) -> torch.Tensor:
    """Per row keep the fewest blocks (forced ones first) whose softmax mass reaches ``top_p``."""
    if top_p >= 1.0:
        return allowed | forced
    ranking = probs.masked_fill(forced, 2.0).masked_fill(~allowed, -1.0)
    order = ranking.argsort(dim=-1, descending=True)
    sorted_mass = torch.gather(probs.masked_fill(~allowed, 0.0), -1, order)
    mass_before = sorted_mass.cumsum(dim=-1) - sorted_mass
    keep_sorted = mass_before < top_p
    chosen = torch.zeros(probs.shape, dtype=torch.bool, device=probs.device).scatter_(-1, order, keep_sorted)
    return (chosen & allowed) | forced


def estimate_block_mask(
    q: torch.Tensor, k: torch.Tensor, *, density: float | None = None, top_p: float | None = None,
    block_m: int = BLOCK_M, block_n: int = BLOCK_N, always_keep_diagonal: bool = True,
    keep_key_ranges: Sequence[TokenRange] | None = None, keep_query_ranges: Sequence[TokenRange] | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """Bool block mask ``[B, H, ceil(Nq/block_m), ceil(Nk/block_n)]`` for ``block_sparse_attention``.

    ``q [B, H, Nq, D]``, ``k [B, Hkv, Nk, D]`` (Hkv dividing H). Give exactly one of ``density``
    (fraction of key blocks kept per query block, in (0, 1]; 1.0 keeps all) or ``top_p`` (keep the
    fewest key blocks whose pooled-softmax mass reaches it, in (0, 1]). Forced blocks count towards
    the density budget and are kept even beyond it: the diagonal (key blocks holding the query
    block's own positions, bottom-right aligned as in causal attention) when
    ``always_keep_diagonal``, key blocks touching ``keep_key_ranges`` (half-open token ranges, e.g.
    text tokens) for every query block, and every key block for query blocks touching
    ``keep_query_ranges``. ``causal`` never keeps blocks wholly above the causal diagonal (which
    requires the default block sizes).
    """
    if (density is None) == (top_p is None):
        raise ValueError("give exactly one of density or top_p")
    level = density if density is not None else top_p
    if not 0.0 < float(level) <= 1.0:
        raise ValueError(f"{'density' if density is not None else 'top_p'} must be in (0, 1], got {level}")
    if q.dim() != 4 or k.dim() != 4 or q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3]:
        raise ValueError(f"q and k must be [B, H, N, D] with the same B and D, got {list(q.shape)}, {list(k.shape)}")
    if q.shape[1] % k.shape[1]:
        raise ValueError(f"q heads ({q.shape[1]}) must be a multiple of k heads ({k.shape[1]})")
    if causal and (block_m, block_n) != (BLOCK_M, BLOCK_N):
        raise ValueError(f"causal needs the kernel's block sizes ({BLOCK_M}, {BLOCK_N})")
    q_len, k_len, device = q.shape[2], k.shape[2], q.device

    pooled_q = mean_pool_blocks(q, block_m)
    pooled_k = expand_kv_heads(mean_pool_blocks(k, block_n), q.shape[1])
    scores = torch.einsum("bhid,bhjd->bhij", pooled_q, pooled_k) * q.shape[-1] ** -0.5
    num_q_blocks, num_k_blocks = scores.shape[-2:]

    allowed = torch.ones(num_q_blocks, num_k_blocks, dtype=torch.bool, device=device)
    if causal:
        allowed = causal_block_keep(q_len, k_len, device)
    forced = torch.zeros_like(allowed)
    if always_keep_diagonal:
        forced |= diagonal_blocks(q_len, k_len, block_m, block_n, device)
    if keep_key_ranges:
        forced |= blocks_overlapping(keep_key_ranges, block_n, num_k_blocks, device)[None, :]
    if keep_query_ranges:
        forced |= blocks_overlapping(keep_query_ranges, block_m, num_q_blocks, device)[:, None]
    forced &= allowed
    allowed, forced = allowed.expand_as(scores), forced.expand_as(scores)

    probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1).nan_to_num(0.0)
    if density is not None:
        return keep_top_density(scores, forced, allowed, float(density))
    return keep_top_mass(probs, forced, allowed, float(top_p))
