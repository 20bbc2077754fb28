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


def heads_of(mask: torch.Tensor, heads: int) -> torch.Tensor:
    """A ``[B, Hk, Q, K]`` mask with Hk in (1, a divisor of ``heads``) broadcast to ``heads`` query heads."""
    if mask.shape[1] in (1, heads):
        return mask
    return mask.repeat_interleave(heads // mask.shape[1], dim=1)


def attend_kept(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, allowed: torch.Tensor | None,
                scale: float | None) -> torch.Tensor:
    """``query [B, H, Q, D]`` over the kept ``key``/``value`` ``[B, Hkv, K, D]`` (GQA: Hkv divides H) where
    ``allowed [B, Hk, Q, K]`` (``None``: every key) → ``[B, H, Q, D]``."""
    heads = query.shape[1]
    if key.shape[1] != heads:
        key, value = (t.repeat_interleave(heads // t.shape[1], dim=1) for t in (key, value))
    return attend(query, [key], [value], heads_of(allowed, heads) if allowed is not None else None, scale)


def attend_with_lse(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, allowed: torch.Tensor | None,
                    scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``attend_kept`` in float32, also returning the log-sum-exp of the scores ``[B, H, Q]`` (for merging)."""
    from mmcache.kernels.masked_attention import masked_attention

    if allowed is None:
        allowed = torch.ones(1, 1, 1, 1, dtype=torch.bool, device=query.device)
    return masked_attention(query, key, value, heads_of(allowed, query.shape[1]), scale)


def merge_by_lse(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Softmax attention over the union of disjoint key sets from each part's ``(out [B, H, Q, D], lse [B, H, Q])``."""
    lses = torch.stack([lse.float() for _, lse in parts])
    total = torch.logsumexp(lses, dim=0)
    weights = torch.exp(lses - torch.where(torch.isfinite(total), total, 0.0))
    weights = torch.nan_to_num(weights, nan=0.0)
    return sum(weight.unsqueeze(-1) * out.float() for weight, (out, _) in zip(weights, parts))


def subset_kernel_fits(query: torch.Tensor, backend: str) -> bool:
    """Whether ``kernels.token_subset_attention`` runs these queries (``backend``: auto / triton / reference)."""
    from mmcache.kernels import SUPPORTED_HEAD_DIMS

    if backend in ("triton", "reference"):
        return True
    return query.is_cuda and query.dtype in (torch.float16, torch.bfloat16) and query.shape[-1] in SUPPORTED_HEAD_DIMS


def important_token_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, important: torch.Tensor,
                              fill: torch.Tensor, scale: float, allowed: torch.Tensor | None = None,
                              backend: str = "auto") -> torch.Tensor:
    """Causal self-attention among the ``important [B, 1, K]`` tokens only → ``[B, H, T, D]``.

    The important queries attend to the important keys at or before them; every other row is
    ``fill [B, H, T, D]``. The other tokens' attention is never computed: on CUDA (fp16/bf16, head
    dims 32/64/128) through ``kernels.token_subset_attention``, which gathers and scatters inside
    the kernel; otherwise the important rows are gathered and run through SDPA. ``allowed [B, 1, K, K]``
    (the model's mask among the important tokens, e.g. with padding) is honoured on the SDPA path;
    the kernel applies the causal order only.
    """
    if subset_kernel_fits(query, backend):
        from mmcache.kernels import token_subset_attention

        return token_subset_attention(query, key, value, important, causal=True, scale=scale, fill=fill,
                                      backend=backend)
    return gathered_attention(query, key, value, important, fill, scale, allowed)


def gathered_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, important: torch.Tensor,
                       fill: torch.Tensor, scale: float, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """``important_token_attention`` without the kernel: the important rows gathered, run through one causal
    SDPA call (or the ``allowed`` mask) and scattered back into ``fill``."""
    rows = important.expand(query.shape[0], 1, -1)
    index = rows.unsqueeze(-1)
    gathered = [t.gather(2, index.expand(-1, t.shape[1], -1, t.shape[-1])) for t in (query, key, value)]
    if allowed is None:
        heads = query.shape[1]
        keys, values = (t.repeat_interleave(heads // t.shape[1], dim=1) for t in gathered[1:])
        out = F.scaled_dot_product_attention(gathered[0], keys, values, is_causal=True, scale=scale)
    else:  # a padding query among them sees no key: its row is 0, not NaN
        out = torch.nan_to_num(attend_kept(gathered[0], gathered[1], gathered[2], allowed, scale), nan=0.0)
    return fill.to(query.dtype).scatter(2, index.expand(-1, query.shape[1], -1, query.shape[-1]), out)
