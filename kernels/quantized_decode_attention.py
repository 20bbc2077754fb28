"""Decode attention over packed 2/4-bit KV segments, dequantized on the fly (flash-decoding).

Kernels, launcher and float32 reference. Each segment's keys are cut into splits; one program per
(split, batch x kv head) reads the packed codes with their scales, dequantizes a tile at a time and
keeps an online softmax for all the q heads of its group. A second kernel merges the per-split
partial outputs by their log-sum-exp. Segments may differ in bits (mixed precision).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .bit_packing import codes_per_byte
from .block_sizes import SUPPORTED_HEAD_DIMS
from .dispatch import choose_backend
from .kv_quantization import QuantizedKV, dequantize_kv
from .masked_attention import masked_attention
from .online_softmax import LOG2_E
from .triton_compat import is_interpreted, tl, triton
from .validation import check_attention_dtype, default_scale

DECODE_BLOCK_N = 64
MAX_ROWS_PER_KV_HEAD = 128


@triton.jit
def _unpack_rows(packed, BLOCK_N: tl.constexpr, HEAD_DIM: tl.constexpr, BITS: tl.constexpr):
    """uint8 ``[BLOCK_N, HEAD_DIM * BITS / 8]`` -> int32 codes ``[BLOCK_N, HEAD_DIM]`` (lowest bits first)."""
    packed = packed.to(tl.int32)
    if BITS == 4:
        codes = tl.join(packed & 15, packed >> 4)
    else:  # join adds a last axis: this nesting yields the order c0, c1, c2, c3
        codes = tl.join(tl.join(packed & 3, (packed >> 4) & 3), tl.join((packed >> 2) & 3, packed >> 6))
    return tl.reshape(codes, [BLOCK_N, HEAD_DIM])


@triton.jit
def _per_channel_group(param_ptr, row_of_group, BLOCK_N: tl.constexpr, VALUE_GROUPS: tl.constexpr,
                       GROUP_SIZE: tl.constexpr, HEAD_DIM: tl.constexpr, valid):
    """Load ``[BLOCK_N, D / G]`` per-token parameters and repeat each over its G channels."""
    params = tl.load(param_ptr + row_of_group[:, None] * VALUE_GROUPS + tl.arange(0, VALUE_GROUPS)[None, :],
                     mask=valid[:, None], other=0.0).to(tl.float32)
    return tl.reshape(tl.broadcast_to(params[:, :, None], [BLOCK_N, VALUE_GROUPS, GROUP_SIZE]), [BLOCK_N, HEAD_DIM])


@triton.jit
def _quantized_decode_split_kernel(
    q_ptr, key_codes_ptr, key_scale_ptr, key_zero_ptr, value_codes_ptr, value_scale_ptr, value_zero_ptr,
    partial_out_ptr, partial_lse_ptr,
    stride_qb, stride_qh, stride_qm, stride_qd,
    kv_heads, kv_group_size, queries_per_head, seq_len, num_key_groups, keys_per_split, split_offset,
    total_splits, qk_scale_log2,
    HEAD_DIM: tl.constexpr, BITS: tl.constexpr, GROUP_SIZE: tl.constexpr, BLOCK_Q: tl.constexpr,
    BLOCK_N: tl.constexpr, UPCAST_DOT: tl.constexpr,
):
    split = tl.program_id(0)
    batch_kv_head = tl.program_id(1).to(tl.int64)
    batch = batch_kv_head // kv_heads
    kv_head = batch_kv_head % kv_heads
    num_heads = kv_heads * kv_group_size

    # One tile row per (q head of this kv head's group, query): row r -> head r // M, query r % M.
    rows = tl.arange(0, BLOCK_Q)
    row_valid = rows < kv_group_size * queries_per_head
    head = kv_head * kv_group_size + rows // queries_per_head
    query = rows % queries_per_head
    dims = tl.arange(0, HEAD_DIM)
    q_tile = tl.load(
        q_ptr + batch * stride_qb + head[:, None] * stride_qh + query[:, None] * stride_qm + dims[None, :] * stride_qd,
        mask=row_valid[:, None], other=0.0,
    )
    if UPCAST_DOT:  # the interpreter multiplies raw bf16 bits in tl.dot: do the dots in fp32 there
        q_tile = q_tile.to(tl.float32)

    PACKED: tl.constexpr = HEAD_DIM * BITS // 8
    VALUE_GROUPS: tl.constexpr = HEAD_DIM // GROUP_SIZE
    TILE_IN_ONE_KEY_GROUP: tl.constexpr = GROUP_SIZE % BLOCK_N == 0  # tiles start at multiples of BLOCK_N
    packed_cols = tl.arange(0, PACKED)

    row_max = tl.full([BLOCK_Q], float("-inf"), tl.float32)
    row_sum = tl.zeros([BLOCK_Q], tl.float32)
    acc = tl.zeros([BLOCK_Q, HEAD_DIM], tl.float32)
    first_key = split * keys_per_split
    end_key = tl.minimum(first_key + keys_per_split, seq_len)
    for block_start in range(first_key, end_key, BLOCK_N):
        keys = block_start + tl.arange(0, BLOCK_N)
        key_valid = keys < end_key
        token_row = batch_kv_head * seq_len + keys

        key_bytes = tl.load(key_codes_ptr + token_row[:, None] * PACKED + packed_cols[None, :],
                            mask=key_valid[:, None], other=0)
        key_codes = _unpack_rows(key_bytes, BLOCK_N, HEAD_DIM, BITS).to(tl.float32)
        if TILE_IN_ONE_KEY_GROUP:  # one scale/zero row for the whole tile
            group_row = (batch_kv_head * num_key_groups + block_start // GROUP_SIZE) * HEAD_DIM
            key_scale = tl.load(key_scale_ptr + group_row + dims).to(tl.float32)[None, :]
            key_zero = tl.load(key_zero_ptr + group_row + dims).to(tl.float32)[None, :]
        else:
            key_param = (batch_kv_head * num_key_groups + keys // GROUP_SIZE)[:, None] * HEAD_DIM + dims[None, :]
            key_scale = tl.load(key_scale_ptr + key_param, mask=key_valid[:, None], other=0.0).to(tl.float32)
            key_zero = tl.load(key_zero_ptr + key_param, mask=key_valid[:, None], other=0.0).to(tl.float32)
        k_tile = (key_codes * key_scale + key_zero).to(q_tile.dtype)

        scores = tl.dot(q_tile, tl.trans(k_tile)) * qk_scale_log2
        scores = tl.where(key_valid[None, :], scores, float("-inf"))
        new_max = tl.maximum(row_max, tl.max(scores, 1))
        shift = tl.where(new_max == float("-inf"), 0.0, new_max)
        rescale = tl.math.exp2(row_max - shift)
        probs = tl.math.exp2(scores - shift[:, None])
        row_sum = row_sum * rescale + tl.sum(probs, 1)

        value_bytes = tl.load(value_codes_ptr + token_row[:, None] * PACKED + packed_cols[None, :],
                              mask=key_valid[:, None], other=0)
        value_codes = _unpack_rows(value_bytes, BLOCK_N, HEAD_DIM, BITS).to(tl.float32)
        value_scale = _per_channel_group(value_scale_ptr, token_row, BLOCK_N, VALUE_GROUPS, GROUP_SIZE, HEAD_DIM,
                                         key_valid)
        value_zero = _per_channel_group(value_zero_ptr, token_row, BLOCK_N, VALUE_GROUPS, GROUP_SIZE, HEAD_DIM,
                                        key_valid)
        v_tile = (value_codes * value_scale + value_zero).to(q_tile.dtype)

        acc = acc * rescale[:, None] + tl.dot(probs.to(q_tile.dtype), v_tile)
        row_max = new_max

    has_keys = row_sum > 0.0
    partial_row = (batch * num_heads + kv_head * kv_group_size) * queries_per_head + rows
    slot = partial_row * total_splits + split_offset + split
    tl.store(partial_out_ptr + slot[:, None] * HEAD_DIM + dims[None, :],
             acc / tl.where(has_keys, row_sum, 1.0)[:, None], mask=row_valid[:, None])
    log2_sum = tl.where(has_keys, row_max + tl.math.log2(tl.where(has_keys, row_sum, 1.0)), float("-inf"))
    tl.store(partial_lse_ptr + slot, log2_sum, mask=row_valid)


@triton.jit
def _merge_splits_kernel(
    partial_out_ptr, partial_lse_ptr, out_ptr, lse_ptr, num_heads, queries_per_head, total_splits,
    stride_ob, stride_oh, stride_om, stride_od,
    HEAD_DIM: tl.constexpr, BLOCK_S: tl.constexpr, STORE_LSE: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)  # (batch * H + head) * M + query
    batch = row // (num_heads * queries_per_head)
    head = (row // queries_per_head) % num_heads
    query = row % queries_per_head
    splits = tl.arange(0, BLOCK_S)
    dims = tl.arange(0, HEAD_DIM)

    best = tl.full([BLOCK_S], float("-inf"), tl.float32)
    for start in range(0, total_splits, BLOCK_S):
        lse = tl.load(partial_lse_ptr + row * total_splits + start + splits,
                      mask=start + splits < total_splits, other=float("-inf"))
        best = tl.maximum(best, lse)
    top = tl.max(best, 0)
    shift = tl.where(top == float("-inf"), 0.0, top)

    weight_sum = tl.zeros([BLOCK_S], tl.float32)
    acc = tl.zeros([HEAD_DIM], tl.float32)
    for start in range(0, total_splits, BLOCK_S):
        in_range = start + splits < total_splits
        lse = tl.load(partial_lse_ptr + row * total_splits + start + splits, mask=in_range, other=float("-inf"))
        weight = tl.math.exp2(lse - shift)
        part = tl.load(partial_out_ptr + (row * total_splits + start + splits)[:, None] * HEAD_DIM + dims[None, :],
                       mask=in_range[:, None], other=0.0)
        acc += tl.sum(weight[:, None] * part, 0)
        weight_sum += weight
    total = tl.sum(weight_sum, 0)
    out = acc / tl.where(total > 0.0, total, 1.0)
    tl.store(out_ptr + batch * stride_ob + head * stride_oh + query * stride_om + dims * stride_od,
             out.to(out_ptr.dtype.element_ty))
    if STORE_LSE:  # natural-log log-sum-exp of the scaled scores, -inf for a row with no key
        lse = tl.where(total > 0.0, (shift + tl.math.log2(tl.where(total > 0.0, total, 1.0))) * 0.6931471805599453,
                       float("-inf"))
        tl.store(lse_ptr + row, lse)


def split_plan(seq_len: int, programs_per_split: int, device: torch.device, num_splits: int | None) -> tuple[int, int]:
    """``(splits, keys_per_split)``: enough programs to fill the GPU (about 4 per SM), >= 1 tile each."""
    if num_splits is None:
        target_programs = 4 * torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" \
            else 4
        num_splits = -(-target_programs // programs_per_split)
    num_splits = max(1, min(int(num_splits), -(-seq_len // DECODE_BLOCK_N)))
    keys_per_split = -(-(-(-seq_len // num_splits)) // DECODE_BLOCK_N) * DECODE_BLOCK_N
    return -(-seq_len // keys_per_split), keys_per_split


def launch_quantized_decode_attention(
    q: torch.Tensor, segments: Sequence[QuantizedKV], *, scale: float, num_splits: int | None = None,
    num_warps: int = 4, num_stages: int = 3, return_lse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Split-K kernel per segment into fp32 partials, then one merge kernel (which also stores the
    log-sum-exp when ``return_lse``)."""
    batch, heads, queries, head_dim = q.shape
    kv_heads = segments[0].shape[1]
    plans = [split_plan(seg.shape[2], batch * kv_heads, q.device, num_splits) for seg in segments]
    total_splits = sum(splits for splits, _ in plans)
    partial_out = torch.empty((batch, heads, queries, total_splits, head_dim), device=q.device, dtype=torch.float32)
    partial_lse = torch.empty((batch, heads, queries, total_splits), device=q.device, dtype=torch.float32)
    block_q = max(16, triton.next_power_of_2(queries * (heads // kv_heads)))
    interpreted = is_interpreted(_quantized_decode_split_kernel)
    split_offset = 0
    for seg, (splits, keys_per_split) in zip(segments, plans):
        tensors = [t.contiguous() for t in (seg.key_codes, seg.key_scale, seg.key_zero, seg.value_codes,
                                            seg.value_scale, seg.value_zero)]
        _quantized_decode_split_kernel[(splits, batch * kv_heads)](
            q, *tensors, partial_out, partial_lse, *q.stride(),
            kv_heads, heads // kv_heads, queries, seg.shape[2], seg.key_scale.shape[2], keys_per_split, split_offset,
            total_splits, scale * LOG2_E,
            HEAD_DIM=head_dim, BITS=seg.bits, GROUP_SIZE=seg.group_size, BLOCK_Q=block_q,
            BLOCK_N=DECODE_BLOCK_N, UPCAST_DOT=interpreted, num_warps=num_warps, num_stages=num_stages,
        )
        split_offset += splits
    out = torch.empty_like(q)
    lse = torch.empty((batch, heads, queries), device=q.device, dtype=torch.float32) if return_lse else partial_lse
    _merge_splits_kernel[(batch * heads * queries,)](
        partial_out, partial_lse, out, lse, heads, queries, total_splits, *out.stride(),
        HEAD_DIM=head_dim, BLOCK_S=min(64, triton.next_power_of_2(total_splits)), STORE_LSE=return_lse, num_warps=4,
    )
    return (out, lse) if return_lse else out


def quantized_decode_attention_reference(
    q: torch.Tensor, segments: Sequence[QuantizedKV], *, scale: float | None = None, return_lse: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """float32 reference: dequantize every segment, concatenate the tokens, dense attention."""
    keys, values = zip(*(dequantize_kv(seg, torch.float32) for seg in segments))
    k, v = torch.cat(keys, dim=2), torch.cat(values, dim=2)
    everything = torch.ones(1, 1, 1, 1, dtype=torch.bool, device=q.device)
    out, lse = masked_attention(q, k, v, everything, default_scale(scale, q.shape[-1]))
    return (out.to(q.dtype), lse.float()) if return_lse else out.to(q.dtype)


def check_decode_inputs(q: torch.Tensor, segments: Sequence[QuantizedKV]) -> None:
    if q.dim() != 4:
        raise ValueError(f"q must have shape [B, H, M, D] (M new tokens), got {list(q.shape)}")
    check_attention_dtype("q", q)
    if not segments:
        raise ValueError("need at least one QuantizedKV segment")
    batch, heads, queries, head_dim = q.shape
    if head_dim not in SUPPORTED_HEAD_DIMS:
        raise ValueError(f"head dim D={head_dim} is not supported; supported: {SUPPORTED_HEAD_DIMS}")
    for i, seg in enumerate(segments):
        if not isinstance(seg, QuantizedKV):
            raise TypeError(f"segment {i} must be a QuantizedKV, got {type(seg).__name__}")
        codes_per_byte(seg.bits)
        seg_batch, kv_heads, _, seg_dim = seg.shape
        if seg.device != q.device:
            raise ValueError(f"segment {i} is on {seg.device} but q is on {q.device}")
        if seg_batch != batch or seg_dim != head_dim:
            raise ValueError(f"segment {i} holds [B={seg_batch}, D={seg_dim}] but q has [B={batch}, D={head_dim}]")
        if kv_heads != segments[0].shape[1]:
            raise ValueError(f"all segments must have the same number of kv heads ({segments[0].shape[1]}), "
                             f"segment {i} has {kv_heads}")
        if heads % kv_heads:
            raise ValueError(f"q has {heads} heads, not a multiple of the {kv_heads} kv heads of the cache")
    rows = queries * (heads // segments[0].shape[1])
    if rows > MAX_ROWS_PER_KV_HEAD:
        raise ValueError(f"M x (H / Hkv) = {rows} query rows per kv head; at most {MAX_ROWS_PER_KV_HEAD} are "
                         "supported (decode takes one or a few new tokens)")


def quantized_decode_attention(
    q: torch.Tensor, kv: QuantizedKV | Sequence[QuantizedKV], *, scale: float | None = None,
    num_splits: int | None = None, backend: str = "auto", return_lse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Attention of ``q [B, H, M, D]`` (M new tokens) over a quantized KV cache, non-causal.

    ``kv`` is one ``QuantizedKV`` or a list of segments (e.g. 4-bit important tokens and 2-bit
    others from ``quantize_kv_mixed``); every query attends to every cached token of every
    segment. Segments share B, Hkv (dividing H) and D; they may differ in bits, group size and
    length. ``num_splits`` overrides the number of key splits per segment (default: enough
    programs to fill the GPU). ``scale`` defaults to 1/sqrt(D). Output dtype = q's dtype.
    With ``return_lse`` it returns ``(out, lse)``: ``lse [B, H, M]`` float32 is the natural-log
    log-sum-exp of the scaled scores, so the result merges with attention over other keys (e.g.
    an unquantized tail of recent tokens).
    """
    segments = [kv] if isinstance(kv, QuantizedKV) else list(kv)
    check_decode_inputs(q, segments)
    scale = default_scale(scale, q.shape[-1])
    kernels = [_quantized_decode_split_kernel, _merge_splits_kernel]
    if choose_backend(backend, [q, *(seg.key_codes for seg in segments)], kernels) == "reference":
        return quantized_decode_attention_reference(q, segments, scale=scale, return_lse=return_lse)
    return launch_quantized_decode_attention(q, segments, scale=scale, num_splits=num_splits, return_lse=return_lse)
