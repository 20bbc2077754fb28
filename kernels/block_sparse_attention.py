"""Block-sparse FlashAttention: each query block visits only its live key blocks.

Kernel, launcher and float32 reference. A block mask ``[B, H, ceil(Nq/BLOCK_M), ceil(Nk/BLOCK_N)]``
is compacted on the device into per-query-block lists of live key blocks (``live_blocks.py``); one
program per (query block, batch x head) runs an online softmax over that list only.
"""

from __future__ import annotations

import torch

from .block_sizes import BLOCK_M, BLOCK_N
from .dispatch import choose_backend
from .live_blocks import LiveBlocks, compact_block_mask, expected_mask_shape
from .masked_attention import masked_attention
from .online_softmax import LOG2_E, online_softmax_step
from .triton_compat import is_interpreted, tl, triton
from .validation import AttentionShape, check_qkv, check_same_device, default_scale



@triton.jit
def _block_sparse_attention_kernel(
    q_ptr, k_ptr, v_ptr, out_ptr, lse_ptr, block_ids_ptr, block_counts_ptr,
    stride_qb, stride_qh, stride_qn, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_ob, stride_oh, stride_on, stride_od,
    num_heads, kv_group_size, q_len, k_len, num_q_blocks, num_k_blocks, qk_scale_log2,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    CAUSAL: tl.constexpr, WRITE_LSE: tl.constexpr, UPCAST_DOT: tl.constexpr,
):
    # Heaviest (last, under causal) query blocks first, so the long programs start early.
    q_block = num_q_blocks - 1 - tl.program_id(0)
    batch_head = tl.program_id(1)
    batch = (batch_head // num_heads).to(tl.int64)
    head = (batch_head % num_heads).to(tl.int64)
    kv_head = head // kv_group_size
    causal_offset = k_len - q_len  # bottom-right alignment

    rows = q_block * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, HEAD_DIM)
    row_valid = rows < q_len
    q_tile = tl.load(
        q_ptr + batch * stride_qb + head * stride_qh + rows[:, None] * stride_qn + dims[None, :] * stride_qd,
        mask=row_valid[:, None], other=0.0,
    )
    if UPCAST_DOT:  # the interpreter multiplies raw bf16 bits in tl.dot: do the dots in fp32 there
        q_tile = q_tile.to(tl.float32)
    k_base = k_ptr + batch * stride_kb + kv_head * stride_kh + dims[None, :] * stride_kd
    v_base = v_ptr + batch * stride_vb + kv_head * stride_vh + dims[None, :] * stride_vd

    row_max = tl.full([BLOCK_M], float("-inf"), tl.float32)
    row_sum = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)

    list_offset = (batch_head * num_q_blocks + q_block).to(tl.int64)
    live_count = tl.load(block_counts_ptr + list_offset)
    block_list = block_ids_ptr + list_offset * num_k_blocks
    for i in range(live_count):
        k_block = tl.load(block_list + i)
        keys = k_block * BLOCK_N + tl.arange(0, BLOCK_N)
        key_valid = keys < k_len
        k_tile = tl.load(k_base + keys[:, None] * stride_kn, mask=key_valid[:, None], other=0.0)
        v_tile = tl.load(v_base + keys[:, None] * stride_vn, mask=key_valid[:, None], other=0.0)
        if UPCAST_DOT:
            k_tile = k_tile.to(tl.float32)
            v_tile = v_tile.to(tl.float32)
        scores = tl.dot(q_tile, tl.trans(k_tile)) * qk_scale_log2

        block_end = k_block * BLOCK_N + BLOCK_N
        needs_mask = block_end > k_len
        if CAUSAL:
            needs_mask = needs_mask | (block_end - 1 > q_block * BLOCK_M + causal_offset)
        if needs_mask:
            allowed = key_valid[None, :]
            if CAUSAL:
                allowed = allowed & (keys[None, :] <= rows[:, None] + causal_offset)
            scores = tl.where(allowed, scores, float("-inf"))

        row_max, row_sum, acc = online_softmax_step(scores, v_tile, row_max, row_sum, acc)

    has_keys = row_sum > 0.0
    out_tile = acc / tl.where(has_keys, row_sum, 1.0)[:, None]
    tl.store(
        out_ptr + batch * stride_ob + head * stride_oh + rows[:, None] * stride_on + dims[None, :] * stride_od,
        out_tile.to(out_ptr.dtype.element_ty), mask=row_valid[:, None],
    )
    if WRITE_LSE:
        log2_sum = row_max + tl.math.log2(tl.where(has_keys, row_sum, 1.0))
        lse = tl.where(has_keys, log2_sum * 0.6931471805599453, float("-inf"))  # log2 -> natural log
        tl.store(lse_ptr + batch_head.to(tl.int64) * q_len + rows, lse, mask=row_valid)


def launch_config(head_dim: int) -> dict[str, int]:
    """num_warps / num_stages for the GPU (the interpreter ignores them)."""
    return {"num_warps": 8 if head_dim >= 128 else 4, "num_stages": 3}


def launch_block_sparse_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, live: LiveBlocks, shape: AttentionShape,
    *, causal: bool, scale: float, return_lse: bool, num_warps: int | None = None, num_stages: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run the Triton kernel on already validated inputs and compacted live blocks."""
    out = torch.empty_like(q)
    lse = torch.empty((shape.batch, shape.heads, shape.q_len), device=q.device, dtype=torch.float32) if return_lse \
        else out  # any pointer: not written
    num_q_blocks, num_k_blocks = live.indices.shape[-2], live.indices.shape[-1]
    config = launch_config(shape.head_dim)
    grid = (num_q_blocks, shape.batch * shape.heads)
    _block_sparse_attention_kernel[grid](
        q, k, v, out, lse, live.indices, live.counts,
        *q.stride(), *k.stride(), *v.stride(), *out.stride(),
        shape.heads, shape.kv_group_size, shape.q_len, shape.k_len, num_q_blocks, num_k_blocks,
        scale * LOG2_E,
        HEAD_DIM=shape.head_dim, BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, CAUSAL=causal, WRITE_LSE=return_lse,
        UPCAST_DOT=is_interpreted(_block_sparse_attention_kernel),
        num_warps=num_warps or config["num_warps"], num_stages=num_stages or config["num_stages"],
    )
    return out, (lse if return_lse else None)


def element_mask(block_mask: torch.Tensor, q_len: int, k_len: int, causal: bool) -> torch.Tensor:
    """Expand a block mask to ``[B, H, Nq, Nk]`` and apply the bottom-right causal mask."""
    allowed = block_mask.repeat_interleave(BLOCK_M, dim=2)[:, :, :q_len]
    allowed = allowed.repeat_interleave(BLOCK_N, dim=3)[..., :k_len]
    if causal:
        rows = torch.arange(q_len, device=block_mask.device)[:, None]
        cols = torch.arange(k_len, device=block_mask.device)[None, :]
        allowed = allowed & (cols <= rows + (k_len - q_len))
    return allowed


def block_sparse_attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_mask: torch.Tensor, *, causal: bool = False,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 reference: dense attention under the expanded block mask. Returns ``(out, lse)``."""
    allowed = element_mask(block_mask.bool(), q.shape[2], k.shape[2], causal)
    out, lse = masked_attention(q, k, v, allowed, default_scale(scale, q.shape[-1]))
    return out.to(q.dtype), lse.float()


def check_block_mask(block_mask: torch.Tensor, shape: AttentionShape) -> torch.Tensor:
    """Validate a bool mask (size-1 batch/head dims broadcast) and return it expanded to full shape."""
    expected = expected_mask_shape(shape.batch, shape.heads, shape.q_len, shape.k_len)
    if block_mask.dtype != torch.bool:
        raise TypeError(f"block_mask must be a bool tensor, got {block_mask.dtype}")
    broadcastable = block_mask.dim() == 4 and block_mask.shape[2:] == expected[2:] and all(
        got in (1, want) for got, want in zip(block_mask.shape[:2], expected[:2])
    )
    if not broadcastable:
        raise ValueError(
            f"block_mask must have shape [B, H, ceil(Nq/{BLOCK_M}), ceil(Nk/{BLOCK_N})] = {list(expected)} "
            f"(B and H may be 1), got {list(block_mask.shape)}"
        )
    return block_mask.expand(expected)


def check_live_blocks(live: LiveBlocks, shape: AttentionShape, causal: bool) -> None:
    """A precomputed ``LiveBlocks`` must match the problem and not have dropped blocks ``causal`` needs."""
    expected = expected_mask_shape(shape.batch, shape.heads, shape.q_len, shape.k_len)
    if tuple(live.indices.shape) != expected or (live.q_len, live.k_len) != (shape.q_len, shape.k_len):
        raise ValueError(f"LiveBlocks were built for Nq={live.q_len}, Nk={live.k_len} with indices "
                         f"{list(live.indices.shape)}; this call needs Nq={shape.q_len}, Nk={shape.k_len}, {list(expected)}")
    if live.causal and not causal:
        raise ValueError("LiveBlocks were compacted with causal=True (blocks above the diagonal dropped): "
                         "call with causal=True or compact the mask again")


def block_sparse_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_mask: torch.Tensor | LiveBlocks, *,
    causal: bool = False,
    scale: float | None = None, return_lse: bool = False, backend: str = "auto",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Attention of ``q [B, H, Nq, D]`` over ``k, v [B, Hkv, Nk, D]`` restricted to live blocks.

    ``block_mask`` is bool ``[B, H, ceil(Nq/BLOCK_M), ceil(Nk/BLOCK_N)]`` (B, H may be 1 to share it):
    True where query block i may attend to key block j; or the same mask already compacted with
    ``compact_block_mask`` (to reuse it across layers or steps). ``causal`` adds the causal mask aligned
    bottom-right (query i sees key j iff j <= i + Nk - Nq; the usual mask when Nq == Nk). Rows
    that see no key return 0. fp16/bf16, D in {32, 64, 128}, Hkv dividing H (GQA). ``scale``
    defaults to 1/sqrt(D). Returns the output (q's dtype) and, with ``return_lse``, the natural
    log-sum-exp of the scaled scores ``[B, H, Nq]`` float32 (-inf for empty rows).
    """
    shape = check_qkv(q, k, v)
    live = block_mask if isinstance(block_mask, LiveBlocks) else None
    if live is not None:
        check_live_blocks(live, shape, causal)
        block_mask = live.indices
    check_same_device(q=q, block_mask=block_mask)
    scale = default_scale(scale, shape.head_dim)
    if choose_backend(backend, [q, k, v, block_mask], [_block_sparse_attention_kernel]) == "reference":
        block_mask = live.to_block_mask() if live is not None else check_block_mask(block_mask, shape)
        out, lse = block_sparse_attention_reference(q, k, v, block_mask, causal=causal, scale=scale)
    else:
        if live is None:
            live = compact_block_mask(check_block_mask(block_mask, shape), causal=causal, q_len=shape.q_len,
                                      k_len=shape.k_len)
        out, lse = launch_block_sparse_attention(q, k, v, live, shape, causal=causal, scale=scale,
                                                 return_lse=return_lse)
    return (out, lse) if return_lse else out
