"""quantized_decode_attention against a float64 oracle on the dequantized K/V."""

from __future__ import annotations

import pytest
import torch
from kernel_oracle import TOLERANCE, attention_oracle, poisoned_empty_like, relative_error

from mmcache.kernels import dequantize_kv, quantize_kv, quantize_kv_mixed, quantized_decode_attention


def oracle_on_dequantized(q, segments):
    keys, values = zip(*(dequantize_kv(seg, torch.float32) for seg in segments))
    k, v = torch.cat(keys, 2), torch.cat(values, 2)
    everything = torch.ones(q.shape[0], q.shape[1], q.shape[2], k.shape[2], dtype=torch.bool)
    return attention_oracle(q, k, v, everything)[0]


CASES = [  # seed, batch, heads, kv_heads, queries, length, dim, bits, group, splits, dtype
    (50, 1, 2, 2, 1, 1000, 64, 4, 64, None, torch.bfloat16),
    (51, 2, 4, 2, 3, 300, 64, 2, 32, 3, torch.float16),  # GQA, several new tokens
    (52, 1, 2, 1, 1, 333, 64, 4, 32, 5, torch.bfloat16),  # ragged splits and key groups
    (53, 1, 2, 2, 2, 70, 128, 2, 64, 1, torch.float16),
    (54, 1, 2, 2, 1, 5, 32, 4, 32, None, torch.bfloat16),  # shorter than one tile
]


@pytest.mark.parametrize("backend", ["triton", "reference"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-N{c[5]}-{c[7]}bit-g{c[8]}-splits{c[9]}")
def test_matches_float64_oracle(case, backend):
    seed, batch, heads, kv_heads, queries, length, dim, bits, group, splits, dtype = case
    torch.manual_seed(seed)
    q = torch.randn(batch, heads, queries, dim, dtype=dtype)
    k, v = (torch.randn(batch, kv_heads, length, dim, dtype=dtype) for _ in range(2))
    qkv = quantize_kv(k, v, bits=bits, group_size=group)
    out = quantized_decode_attention(q, qkv, num_splits=splits, backend=backend)
    assert out.dtype == dtype and out.shape == q.shape
    assert relative_error(out, oracle_on_dequantized(q, [qkv])) < TOLERANCE[dtype]


def test_mixed_precision_segments_and_every_output_written(monkeypatch):
    torch.manual_seed(55)
    q = torch.randn(2, 4, 2, 64, dtype=torch.bfloat16)
    k, v = (torch.randn(2, 2, 300, 64, dtype=torch.bfloat16) for _ in range(2))
    important = torch.rand(2, 2, 300).argsort(-1)[..., :100].sort(-1).values
    segments = quantize_kv_mixed(k, v, important, bits=(4, 2), group_size=32)
    poisoned_empty_like(monkeypatch)
    out = quantized_decode_attention(q, segments, num_splits=2, backend="triton")
    assert torch.isfinite(out).all()
    assert relative_error(out, oracle_on_dequantized(q, segments)) < TOLERANCE[torch.bfloat16]


def test_split_count_does_not_change_the_result():
    torch.manual_seed(56)
    q = torch.randn(1, 2, 1, 64, dtype=torch.float16)
    k, v = (torch.randn(1, 2, 700, 64, dtype=torch.float16) for _ in range(2))
    qkv = quantize_kv(k, v, bits=4, group_size=64)
    one = quantized_decode_attention(q, qkv, num_splits=1, backend="triton")
    many = quantized_decode_attention(q, qkv, num_splits=11, backend="triton")
    assert relative_error(many, one.double()) < 2e-3


def test_four_bits_stay_close_to_full_precision_attention():
    """End to end: 4-bit KV changes the output far less than 2-bit KV does, both bounded."""
    torch.manual_seed(57)
    q = torch.randn(1, 2, 1, 64) * 2
    k, v = torch.randn(1, 2, 256, 64), torch.randn(1, 2, 256, 64)
    exact = attention_oracle(q, k, v, torch.ones(1, 2, 1, 256, dtype=torch.bool))[0]
    errors = {}
    for bits in (4, 2):
        out = quantized_decode_attention(q.half(), quantize_kv(k, v, bits=bits, group_size=32), backend="triton")
        errors[bits] = relative_error(out, exact)
    assert errors[4] < 0.25 and errors[4] < errors[2] / 2, errors


def test_bad_inputs_are_refused():
    q = torch.randn(1, 4, 1, 64, dtype=torch.float16)
    qkv = quantize_kv(torch.randn(1, 2, 64, 64), torch.randn(1, 2, 64, 64))
    other_heads = quantize_kv(torch.randn(1, 4, 64, 64), torch.randn(1, 4, 64, 64))
    with pytest.raises(ValueError, match="at least one"):
        quantized_decode_attention(q, [], backend="reference")
    with pytest.raises(ValueError, match="same number of kv heads"):
        quantized_decode_attention(q, [qkv, other_heads], backend="reference")
    with pytest.raises(TypeError, match="float16 or bfloat16"):
        quantized_decode_attention(q.float(), qkv, backend="reference")
    with pytest.raises(ValueError, match="holds"):
        quantized_decode_attention(q[..., :32], qkv, backend="reference")
    with pytest.raises(ValueError, match="query rows per kv head"):
        quantized_decode_attention(torch.randn(1, 4, 65, 64, dtype=torch.float16), qkv, backend="reference")
    with pytest.raises(ValueError, match="not a multiple"):
        quantized_decode_attention(torch.randn(1, 3, 1, 64, dtype=torch.float16), qkv, backend="reference")


@pytest.mark.parametrize("backend", ["triton", "reference"])
def test_log_sum_exp_merges_with_attention_over_other_keys(backend):
    """``return_lse``: the quantized part and a dense tail merge into attention over both."""
    torch.manual_seed(58)
    q = torch.randn(1, 4, 1, 32, dtype=torch.float16)
    k, v = (torch.randn(1, 2, 90, 32, dtype=torch.float16) for _ in range(2))
    qkv = quantize_kv(k[:, :, :80], v[:, :, :80], bits=4, group_size=32)
    out, lse = quantized_decode_attention(q, qkv, backend=backend, return_lse=True)
    assert lse.shape == (1, 4, 1) and lse.dtype == torch.float32
    keys, values = dequantize_kv(qkv, torch.float32)
    everything = torch.ones(1, 4, 1, 80, dtype=torch.bool)
    expected = attention_oracle(q, keys, values, everything)
    assert relative_error(out, expected[0]) < TOLERANCE[torch.float16]
    assert torch.allclose(lse.double(), expected[1].double(), atol=2e-2)
    from mmcache.kv.attention import attend_with_lse, merge_by_lse

    tail = attend_with_lse(q, k[:, :, 80:], v[:, :, 80:], None, 32 ** -0.5)
    merged = merge_by_lse([(out, lse), tail])
    whole = attention_oracle(q, torch.cat([keys, k[:, :, 80:].float()], 2), torch.cat([values, v[:, :, 80:].float()], 2),
                             torch.ones(1, 4, 1, 90, dtype=torch.bool))[0]
    assert relative_error(merged, whole) < TOLERANCE[torch.float16]
