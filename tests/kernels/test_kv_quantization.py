"""2/4-bit KV quantization: packing, error bound, grouping axes, byte counts, mixed precision."""

from __future__ import annotations

import pytest
import torch

from mmcache.kernels import QuantizedKV, dequantize_kv, quantize_kv, quantize_kv_mixed, split_by_importance
from mmcache.kernels.bit_packing import pack_codes, unpack_codes


@pytest.mark.parametrize("bits", [2, 4])
def test_packing_round_trip_is_exact(bits):
    torch.manual_seed(40 + bits)
    codes = torch.randint(0, 1 << bits, (3, 5, 64), dtype=torch.uint8)
    packed = pack_codes(codes, bits)
    assert packed.shape == (3, 5, 64 * bits // 8) and packed.dtype == torch.uint8
    assert torch.equal(unpack_codes(packed, bits), codes)


def test_packing_puts_the_first_code_in_the_lowest_bits():
    assert pack_codes(torch.tensor([1, 2, 3, 0], dtype=torch.uint8), 2).tolist() == [1 | 2 << 2 | 3 << 4]
    assert pack_codes(torch.tensor([0xA, 0x5], dtype=torch.uint8), 4).tolist() == [0x5A]


def expanded_scales(qkv: QuantizedKV) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element scale of keys (per channel, token groups) and values (per token, channel groups)."""
    seq_len, group = qkv.shape[2], qkv.group_size
    key_scale = qkv.key_scale.float().repeat_interleave(group, dim=2)[:, :, :seq_len]
    value_scale = qkv.value_scale.float().repeat_interleave(group, dim=3)
    return key_scale, value_scale


@pytest.mark.parametrize("bits, group_size, seq_len", [(4, 64, 200), (2, 32, 100), (4, 32, 7), (2, 64, 64)])
def test_round_trip_error_is_at_most_half_a_step(bits, group_size, seq_len):
    torch.manual_seed(bits * 100 + group_size + seq_len)
    k = (torch.randn(2, 3, seq_len, 64) * 4 + 1).to(torch.bfloat16)
    v = torch.randn(2, 3, seq_len, 64).to(torch.bfloat16)
    qkv = quantize_kv(k, v, bits=bits, group_size=group_size)
    assert qkv.key_scale.shape == (2, 3, -(-seq_len // group_size), 64)
    assert qkv.value_scale.shape == (2, 3, seq_len, 64 // group_size)
    k_hat, v_hat = dequantize_kv(qkv, torch.float32)
    key_scale, value_scale = expanded_scales(qkv)
    assert ((k_hat - k.float()).abs() <= key_scale / 2 * (1 + 1e-5) + 1e-6).all()
    assert ((v_hat - v.float()).abs() <= value_scale / 2 * (1 + 1e-5) + 1e-6).all()
    # the steps are as small as the group's range allows: range / (2**bits - 1), up to float16 rounding
    levels = (1 << bits) - 1
    value_range = v.float().reshape(2, 3, seq_len, -1, group_size)
    tight = (value_range.amax(-1) - value_range.amin(-1)) / levels
    assert torch.allclose(qkv.value_scale.float(), tight.clamp_min(2**-14), rtol=2e-3, atol=1e-4)
    k_default, _ = dequantize_kv(qkv)
    assert k_default.dtype == torch.bfloat16


def test_keys_are_grouped_per_channel_and_values_per_token():
    """An outlier channel in k (token in v) must not blow up the error of the other channels (tokens)."""
    torch.manual_seed(41)
    k, v = torch.randn(1, 1, 128, 64), torch.randn(1, 1, 128, 64)
    k[..., 5] *= 1000.0
    v[:, :, 17] *= 1000.0
    k_hat, v_hat = dequantize_kv(quantize_kv(k, v, bits=4, group_size=32), torch.float32)
    other_channels = torch.ones(64, dtype=torch.bool)
    other_channels[5] = False
    other_tokens = torch.ones(128, dtype=torch.bool)
    other_tokens[17] = False
    assert (k_hat - k)[..., other_channels].abs().max() < 0.5
    assert (v_hat - v)[:, :, other_tokens].abs().max() < 0.5


def test_constant_groups_round_trip_without_nan():
    k = torch.full((1, 2, 70, 64), 3.0)
    v = torch.full((1, 2, 70, 64), -1.25)
    k_hat, v_hat = dequantize_kv(quantize_kv(k, v, bits=2, group_size=32), torch.float32)
    assert torch.allclose(k_hat, k, atol=1e-3) and torch.allclose(v_hat, v, atol=1e-3)


def expected_ratio(bits: int, group_size: int, seq_len: int, dim: int) -> float:
    codes = seq_len * dim * bits / 8
    key_params = -(-seq_len // group_size) * dim * 2 * 2  # fp16 scale + zero
    value_params = seq_len * (dim // group_size) * 2 * 2
    return (2 * seq_len * dim * 2) / (2 * codes + key_params + value_params)


@pytest.mark.parametrize("bits, group_size", [(4, 64), (4, 32), (2, 64), (2, 32), (4, 128)])
def test_byte_counts_include_scales_and_zeros(bits, group_size):
    k = torch.randn(1, 2, 1024, 128, dtype=torch.bfloat16)
    qkv = quantize_kv(k, k.clone(), bits=bits, group_size=group_size)
    assert qkv.dense_nbytes() == k.nbytes * 2
    assert qkv.compression_vs_bf16 == pytest.approx(expected_ratio(bits, group_size, 1024, 128))


def test_byte_ratios_worth_stating():
    k = torch.randn(1, 2, 1024, 128, dtype=torch.bfloat16)
    ratio = {(bits, group): quantize_kv(k, k, bits=bits, group_size=group).compression_vs_bf16
             for bits in (2, 4) for group in (32, 64)}
    assert ratio[(4, 64)] > 3.5 > ratio[(4, 32)]  # 3.56x vs 3.2x: group 64 is the default for a reason
    assert ratio[(2, 64)] > 6.0 and ratio[(2, 32)] > 5.0


def test_mixed_precision_splits_important_tokens():
    torch.manual_seed(42)
    k, v = torch.randn(2, 2, 150, 64), torch.randn(2, 2, 150, 64)
    important = torch.rand(2, 2, 150).argsort(-1)[..., :40].sort(-1).values
    segments = quantize_kv_mixed(k, v, important, bits=(4, 2), group_size=32)
    assert [seg.bits for seg in segments] == [4, 2]
    assert [seg.shape[2] for seg in segments] == [40, 110]
    (k_imp, v_imp), (k_rest, _) = split_by_importance(k, v, important)
    assert torch.equal(k_imp, torch.gather(k, 2, important[..., None].expand(-1, -1, -1, 64)))
    assert torch.equal(v_imp, torch.gather(v, 2, important[..., None].expand(-1, -1, -1, 64)))
    assert torch.equal(torch.sort(torch.cat([k_imp, k_rest], 2).sum(-1), -1).values, torch.sort(k.sum(-1), -1).values)
    k4, _ = dequantize_kv(segments[0], torch.float32)
    k2, _ = dequantize_kv(segments[1], torch.float32)
    assert (k4 - k_imp).abs().mean() < (k2 - k_rest).abs().mean() / 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(bits=3), "bits must be one of"),
        (dict(group_size=48), "group_size must divide"),
        (dict(group_size=0), "group_size must divide"),
    ],
)
def test_bad_quantization_arguments_are_refused(kwargs, message):
    k = torch.randn(1, 1, 16, 64)
    with pytest.raises(ValueError, match=message):
        quantize_kv(k, k, **kwargs)


def test_mismatched_kv_is_refused():
    with pytest.raises(ValueError, match="same shape|shape \\[B, Hkv, N, D\\]"):
        quantize_kv(torch.randn(1, 1, 16, 64), torch.randn(1, 1, 15, 64))
    with pytest.raises(ValueError, match="distinct"):
        split_by_importance(torch.randn(1, 1, 16, 64), torch.randn(1, 1, 16, 64), torch.tensor([[[1, 1]]]))
