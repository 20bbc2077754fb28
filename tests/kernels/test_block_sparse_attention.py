"""block_sparse_attention (Triton in the interpreter, and the reference) against a float64 oracle."""

from __future__ import annotations

import pytest
import torch
from kernel_oracle import (
    TOLERANCE, attention_oracle, block_mask_elements, causal_bottom_right, poisoned_empty_like, relative_error,
)

from mmcache.kernels import BLOCK_M, BLOCK_N, block_sparse_attention, compact_block_mask


def random_inputs(seed: int, batch: int, heads: int, kv_heads: int, q_len: int, k_len: int, dim: int,
                  dtype: torch.dtype, density: float):
    torch.manual_seed(seed)
    q = torch.randn(batch, heads, q_len, dim, dtype=dtype)
    k = torch.randn(batch, kv_heads, k_len, dim, dtype=dtype)
    v = torch.randn(batch, kv_heads, k_len, dim, dtype=dtype)
    mask = torch.rand(batch, heads, -(-q_len // BLOCK_M), -(-k_len // BLOCK_N)) < density
    return q, k, v, mask


def oracle(q, k, v, mask, causal, scale=None):
    allowed = block_mask_elements(mask, q.shape[2], k.shape[2], BLOCK_M, BLOCK_N)
    if causal:
        allowed = allowed & causal_bottom_right(q.shape[2], k.shape[2])
    return attention_oracle(q, k, v, allowed, scale)


CASES = [  # seed, batch, heads, kv_heads, q_len, k_len, dim, dtype, causal, density
    (1, 2, 2, 2, 300, 300, 64, torch.bfloat16, False, 0.5),
    (2, 1, 2, 2, 300, 300, 64, torch.float16, True, 0.7),
    (3, 1, 4, 2, 200, 300, 64, torch.bfloat16, True, 0.8),  # GQA, Nq < Nk
    (4, 2, 2, 1, 257, 129, 64, torch.float16, False, 0.6),  # GQA, Nq > Nk, ragged
    (5, 1, 2, 2, 300, 100, 64, torch.bfloat16, True, 1.0),  # Nq > Nk causal: first rows see nothing
    (6, 1, 2, 2, 1, 1, 64, torch.float16, False, 1.0),
    (7, 2, 2, 2, 70, 190, 32, torch.bfloat16, False, 0.6),
    (8, 1, 2, 2, 130, 70, 128, torch.float16, True, 1.0),
]


@pytest.mark.parametrize("backend", ["triton", "reference"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-{c[4]}x{c[5]}-d{c[6]}-{str(c[7])[6:]}-causal{c[8]}")
def test_matches_float64_oracle(case, backend):
    seed, batch, heads, kv_heads, q_len, k_len, dim, dtype, causal, density = case
    q, k, v, mask = random_inputs(seed, batch, heads, kv_heads, q_len, k_len, dim, dtype, density)
    out, lse = block_sparse_attention(q, k, v, mask, causal=causal, return_lse=True, backend=backend)
    ref, ref_lse = oracle(q, k, v, mask, causal)
    assert out.dtype == dtype and out.shape == q.shape
    assert relative_error(out, ref) < TOLERANCE[dtype]
    finite = torch.isfinite(ref_lse)
    assert torch.equal(torch.isfinite(lse), finite)
    assert torch.allclose(lse[finite].double(), ref_lse[finite], atol=1e-3)


def test_custom_scale_is_used():
    q, k, v, mask = random_inputs(11, 1, 2, 2, 150, 150, 64, torch.float16, 0.7)
    out = block_sparse_attention(q, k, v, mask, scale=0.3, backend="triton")
    ref, _ = oracle(q, k, v, mask, causal=False, scale=0.3)
    default, _ = oracle(q, k, v, mask, causal=False)
    assert relative_error(out, ref) < TOLERANCE[torch.float16]
    assert relative_error(out, default) > 0.05


def test_masked_blocks_and_ragged_tail_are_never_read():
    """NaN / 1e4 in key blocks masked for every query block, and NaN in memory past Nk."""
    q, k, v, mask = random_inputs(12, 1, 2, 2, 200, 250, 64, torch.bfloat16, 0.7)
    dead_blocks = [1, 3]
    mask[:, :, :, dead_blocks] = False
    mask[:, :, :, 0] = True
    ref, _ = oracle(q, k, v, mask, causal=False)
    storage_k = torch.full((1, 2, 320, 64), float("nan"), dtype=q.dtype)
    storage_v = torch.full((1, 2, 320, 64), float("nan"), dtype=q.dtype)
    poisoned_k, poisoned_v = storage_k[:, :, :250], storage_v[:, :, :250]  # NaN right after the last key
    poisoned_k.copy_(k)
    poisoned_v.copy_(v)
    for block in dead_blocks:
        poisoned_k[:, :, block * BLOCK_N:(block + 1) * BLOCK_N] = float("nan")
        poisoned_v[:, :, block * BLOCK_N:(block + 1) * BLOCK_N] = 1e4
    out = block_sparse_attention(q, poisoned_k, poisoned_v, mask, backend="triton")
    assert torch.isfinite(out).all()
    assert relative_error(out, ref) < TOLERANCE[torch.bfloat16]


def test_all_masked_rows_are_zero_and_every_output_is_written(monkeypatch):
    q, k, v, mask = random_inputs(13, 2, 2, 2, 300, 200, 64, torch.float16, 0.6)
    mask[0, 1, 1] = False  # one whole query block sees nothing
    mask[1, :, 2] = False
    poisoned_empty_like(monkeypatch)
    out, lse = block_sparse_attention(q, k, v, mask, return_lse=True, backend="triton")
    assert not torch.isnan(out).any()
    assert (out[0, 1, BLOCK_M:2 * BLOCK_M] == 0).all() and (out[1, :, 2 * BLOCK_M:] == 0).all()
    assert torch.isneginf(lse[0, 1, BLOCK_M:2 * BLOCK_M]).all()
    ref, _ = oracle(q, k, v, mask, causal=False)
    assert relative_error(out, ref) < TOLERANCE[torch.float16]


def test_broadcast_mask_and_precompacted_blocks_match_full_mask():
    q, k, v, mask = random_inputs(14, 2, 2, 2, 260, 260, 64, torch.float16, 0.5)
    shared = mask[:1, :1]
    full = block_sparse_attention(q, k, v, shared.expand_as(mask).clone(), causal=True, backend="triton")
    broadcast = block_sparse_attention(q, k, v, shared, causal=True, backend="triton")
    live = compact_block_mask(shared.expand_as(mask), causal=True, q_len=260, k_len=260)
    reused = block_sparse_attention(q, k, v, live, causal=True, backend="triton")
    assert torch.equal(full, broadcast) and torch.equal(full, reused)
    reference = block_sparse_attention(q, k, v, live, causal=True, backend="reference")
    assert relative_error(reference, full.double()) < TOLERANCE[torch.float16]


def test_compacted_lists_match_a_python_loop():
    torch.manual_seed(15)
    q_len, k_len = 300, 450
    mask = torch.rand(2, 3, 3, 8) < 0.4
    for causal in (False, True):
        live = compact_block_mask(mask, causal=causal, q_len=q_len, k_len=k_len)
        for b, h, i in torch.cartesian_prod(torch.arange(2), torch.arange(3), torch.arange(3)).tolist():
            last_query = min((i + 1) * BLOCK_M, q_len) - 1
            expected = [j for j in range(8) if mask[b, h, i, j]
                        and (not causal or j * BLOCK_N <= last_query + (k_len - q_len))]
            count = int(live.counts[b, h, i])
            assert live.indices[b, h, i, :count].tolist() == expected
            assert live.to_block_mask()[b, h, i].nonzero().flatten().tolist() == expected


def test_causal_drops_blocks_above_the_diagonal():
    mask = torch.ones(1, 1, 3, 6, dtype=torch.bool)
    live = compact_block_mask(mask, causal=True, q_len=384, k_len=384)
    assert live.counts[0, 0].tolist() == [2, 4, 6]


def test_precompacted_causal_blocks_refuse_a_non_causal_call():
    q, k, v, mask = random_inputs(16, 1, 2, 2, 200, 200, 64, torch.float16, 1.0)
    live = compact_block_mask(mask, causal=True, q_len=200, k_len=200)
    with pytest.raises(ValueError, match="causal=True"):
        block_sparse_attention(q, k, v, live, causal=False, backend="triton")
    with pytest.raises(ValueError, match="LiveBlocks were built for"):
        block_sparse_attention(q[:, :, :100], k, v, live, causal=True, backend="triton")


def test_strided_bnhd_views_work_without_copies():
    """diffusers keeps [B, N, H, D]: a transpose(1, 2) view goes straight in."""
    torch.manual_seed(17)
    q_bnhd, k_bnhd, v_bnhd = (torch.randn(1, 200, 2, 64, dtype=torch.bfloat16) for _ in range(3))
    q, k, v = (t.transpose(1, 2) for t in (q_bnhd, k_bnhd, v_bnhd))
    mask = torch.rand(1, 2, 2, 4) < 0.7
    out = block_sparse_attention(q, k, v, mask, causal=True, backend="triton")
    ref, _ = oracle(q, k, v, mask, causal=True)
    assert not q.is_contiguous() and relative_error(out, ref) < TOLERANCE[torch.bfloat16]
