"""Attention over an important-token subset, with the gather and scatter fused into the kernel.

Kernel, launcher and float32 reference. Rows are loaded by index inside the kernel and outputs
stored back at their original positions: no gathered copies, no N x N mask.
"""

from __future__ import annotations

import torch

from .block_sizes import BLOCK_M, BLOCK_N
from .dispatch import choose_backend
from .masked_attention import masked_attention
from .online_softmax import LOG2_E, online_softmax_step
from .triton_compat import is_interpreted, tl, triton
from .validation import AttentionShape, check_qkv, check_same_device, default_scale



@triton.jit
def _token_subset_attention_kernel(
    q_ptr, k_ptr, v_ptr, out_ptr, keep_ptr, key_limit_ptr,
    stride_qb, stride_qh, stride_qn, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_ob, stride_oh, stride_on, stride_od,
    stride_keep_b, stride_keep_h,
    num_heads, kv_group_size, seq_len, num_kept, num_q_blocks, qk_scale_log2,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    CAUSAL: tl.constexpr, ALL_QUERIES: tl.constexpr, UPCAST_DOT: tl.constexpr,
):
    q_block = num_q_blocks - 1 - tl.program_id(0)
    batch_head = tl.program_id(1)
    batch = (batch_head // num_heads).to(tl.int64)
    head = (batch_head % num_heads).to(tl.int64)
    kv_head = head // kv_group_size
    keep_row = keep_ptr + batch * stride_keep_b + head * stride_keep_h
    dims = tl.arange(0, HEAD_DIM)

    slots = q_block * BLOCK_M + tl.arange(0, BLOCK_M)
    if ALL_QUERIES:  # every query attends to the kept keys
        q_valid = slots < seq_len
        q_pos = slots
        key_end = num_kept
        if CAUSAL:  # kept keys at or before the block's last query (searchsorted on the host)
            key_end = tl.load(key_limit_ptr + batch_head.to(tl.int64) * num_q_blocks + q_block)
    else:  # only the kept queries, over the kept keys
        q_valid = slots < num_kept
        q_pos = tl.load(keep_row + slots, mask=q_valid, other=0)
        key_end = num_kept
        if CAUSAL:  # sorted indices: key slot j precedes query slot i in position iff j <= i
            key_end = tl.minimum(num_kept, q_block * BLOCK_M + BLOCK_M)

    q_tile = tl.load(
        q_ptr + batch * stride_qb + head * stride_qh + q_pos[:, None] * stride_qn + dims[None, :] * stride_qd,
        mask=q_valid[:, None], other=0.0,
    )
    if UPCAST_DOT:  # the interpreter multiplies raw bf16 bits in tl.dot: do the dots in fp32 there
        q_tile = q_tile.to(tl.float32)
    k_base = k_ptr + batch * stride_kb + kv_head * stride_kh + dims[None, :] * stride_kd
    v_base = v_ptr + batch * stride_vb + kv_head * stride_vh + dims[None, :] * stride_vd

    row_max = tl.full([BLOCK_M], float("-inf"), tl.float32)
    row_sum = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    for start in range(0, key_end, BLOCK_N):
        k_slots = start + tl.arange(0, BLOCK_N)
        k_valid = k_slots < key_end
        k_pos = tl.load(keep_row + k_slots, mask=k_valid, other=0)
        k_tile = tl.load(k_base + k_pos[:, None] * stride_kn, mask=k_valid[:, None], other=0.0)
        v_tile = tl.load(v_base + k_pos[:, None] * stride_vn, mask=k_valid[:, None], other=0.0)
        if UPCAST_DOT:
            k_tile = k_tile.to(tl.float32)
            v_tile = v_tile.to(tl.float32)
        scores = tl.dot(q_tile, tl.trans(k_tile)) * qk_scale_log2
        allowed = k_valid[None, :]
        if CAUSAL:
            allowed = allowed & (k_pos[None, :] <= q_pos[:, None])
        scores = tl.where(allowed, scores, float("-inf"))

        row_max, row_sum, acc = online_softmax_step(scores, v_tile, row_max, row_sum, acc)

    out_tile = acc / tl.where(row_sum > 0.0, row_sum, 1.0)[:, None]
    tl.store(
        out_ptr + batch * stride_ob + head * stride_oh + q_pos[:, None] * stride_on + dims[None, :] * stride_od,
        out_tile.to(out_ptr.dtype.element_ty), mask=q_valid[:, None],
    )


def causal_key_limits(keep_idx: torch.Tensor, seq_len: int, heads: int) -> torch.Tensor:
    """``[B, H, nqb]`` int32: how many kept keys lie at or before the last query of each query block."""
    last_query = torch.clamp((torch.arange(-(-seq_len // BLOCK_M), device=keep_idx.device) + 1) * BLOCK_M,
                             max=seq_len) - 1
    keep = keep_idx.expand(keep_idx.shape[0], heads, keep_idx.shape[2]).contiguous()
    boundaries = last_query.expand(*keep.shape[:2], -1).contiguous()
    return torch.searchsorted(keep, boundaries, right=True).to(torch.int32).contiguous()


def launch_token_subset_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep_idx: torch.Tensor, out: torch.Tensor,
    shape: AttentionShape, *, causal: bool, all_queries: bool, scale: float,
) -> torch.Tensor:
    """Run the Triton kernel, writing into ``out`` (rows of non-kept queries are left untouched)."""
    num_kept = keep_idx.shape[2]
    num_q_blocks = -(-(shape.q_len if all_queries else num_kept) // BLOCK_M)
    key_limits = causal_key_limits(keep_idx, shape.q_len, shape.heads) if (causal and all_queries) else keep_idx
    keep_stride_h = keep_idx.stride(1) if keep_idx.shape[1] > 1 else 0
    grid = (num_q_blocks, shape.batch * shape.heads)
    _token_subset_attention_kernel[grid](
        q, k, v, out, keep_idx, key_limits,
        *q.stride(), *k.stride(), *v.stride(), *out.stride(), keep_idx.stride(0), keep_stride_h,
        shape.heads, shape.kv_group_size, shape.q_len, num_kept, num_q_blocks, scale * LOG2_E,
        HEAD_DIM=shape.head_dim, BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, CAUSAL=causal, ALL_QUERIES=all_queries,
        UPCAST_DOT=is_interpreted(_token_subset_attention_kernel),
        num_warps=8 if shape.head_dim >= 128 else 4, num_stages=3,
    )
    return out


def token_subset_attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep_idx: torch.Tensor, out: torch.Tensor, *,
    causal: bool = False, all_queries: bool = False, scale: float | None = None,
) -> torch.Tensor:
    """float32 reference: dense attention under the kept-token mask, written into ``out``."""
    batch, heads, seq_len, _ = q.shape
    keep = keep_idx.expand(batch, heads, keep_idx.shape[2])
    is_kept = torch.zeros(batch, heads, seq_len, dtype=torch.bool, device=q.device).scatter_(2, keep, True)
    allowed = is_kept[:, :, None, :]
    if causal:
        positions = torch.arange(seq_len, device=q.device)
        allowed = allowed & (positions[None, :] <= positions[:, None])
    dense, _ = masked_attention(q, k, v, allowed, default_scale(scale, q.shape[-1]))
    rows = torch.ones_like(is_kept) if all_queries else is_kept
    return torch.where(rows[..., None], dense.to(out.dtype), out)


def check_keep_idx(keep_idx: torch.Tensor, shape: AttentionShape) -> None:
    """Validate ``keep_idx`` ([B, H or 1, K] int64, strictly increasing, inside [0, N)); syncs once."""
    if keep_idx.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"keep_idx must be an int64 (or int32) tensor, got {keep_idx.dtype}")
    if keep_idx.dim() != 3 or keep_idx.shape[0] != shape.batch or keep_idx.shape[1] not in (1, shape.heads):
        raise ValueError(f"keep_idx must have shape [B={shape.batch}, H={shape.heads} or 1, K], "
                         f"got {list(keep_idx.shape)}")
    if not 1 <= keep_idx.shape[2] <= shape.q_len:
        raise ValueError(f"keep_idx must keep between 1 and N={shape.q_len} tokens, got K={keep_idx.shape[2]}")
    in_range = (keep_idx.min() >= 0) & (keep_idx.max() < shape.q_len)
    increasing = (keep_idx.diff(dim=2) > 0).all()
    if not bool(in_range & increasing):
        raise ValueError(f"keep_idx must be strictly increasing positions in [0, N={shape.q_len}) along its last dim")


def token_subset_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep_idx: torch.Tensor, *, causal: bool = False,
    scale: float | None = None, fill: torch.Tensor | None = None, all_queries: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """Self-attention restricted to the kept tokens of each (batch, head).

    ``q [B, H, N, D]``, ``k, v [B, Hkv, N, D]`` (same N, Hkv dividing H); ``keep_idx [B, H, K]`` or
    ``[B, 1, K]`` (shared by all heads): strictly increasing positions in ``[0, N)``, int64.
    The kept keys are ``k[b, h // (H/Hkv), keep_idx[b, h]]``. With ``all_queries=False`` (default)
    only the queries at the kept positions are computed; their outputs land at their original
    positions of the ``[B, H, N, D]`` output and every other row is ``fill[b, h, n]`` when ``fill``
    (``[B, H, N, D]``, e.g. another path's dense output) is given, else 0. With ``all_queries=True``
    every query attends to the kept keys and every row is computed. ``causal`` compares original
    positions: a query at position p sees the kept keys at positions <= p; a query that sees no
    key gets 0. ``scale`` defaults to 1/sqrt(D). Output dtype = q's dtype.
    """
    shape = check_qkv(q, k, v)
    if shape.k_len != shape.q_len:
        raise ValueError(f"token_subset_attention is self-attention: q has N={shape.q_len}, k/v N={shape.k_len}")
    check_same_device(q=q, keep_idx=keep_idx)
    check_keep_idx(keep_idx, shape)
    scale = default_scale(scale, shape.head_dim)
    if fill is None:
        out = torch.zeros_like(q) if not all_queries else torch.empty_like(q)
    else:
        if fill.shape != q.shape:
            raise ValueError(f"fill must have q's shape {list(q.shape)}, got {list(fill.shape)}")
        check_same_device(q=q, fill=fill)
        out = fill.to(dtype=q.dtype, copy=True)
    tensors = [q, k, v, keep_idx]
    if choose_backend(backend, tensors, [_token_subset_attention_kernel]) == "reference":
        return token_subset_attention_reference(q, k, v, keep_idx, out, causal=causal, all_queries=all_queries,
                                                scale=scale)
    keep_idx = keep_idx.to(torch.int64).contiguous()
    return launch_token_subset_attention(q, k, v, keep_idx, out, shape, causal=causal, all_queries=all_queries,
                                         scale=scale)
