"""Asymmetric 2/4-bit group quantization of a KV cache, packed into bytes.

Layout (``G`` = group size, ``bits`` in {2, 4}, ``P = D * bits / 8`` bytes per token row):

* keys, per channel: groups of ``G`` consecutive tokens of one channel share a scale and zero;
  ``key_codes [B, Hkv, N, P]``, ``key_scale``/``key_zero [B, Hkv, ceil(N/G), D]`` (a ragged last
  group holds fewer tokens);
* values, per token: groups of ``G`` consecutive channels of one token share them;
  ``value_codes [B, Hkv, N, P]``, ``value_scale``/``value_zero [B, Hkv, N, D/G]``.

A stored value is ``code * scale + zero`` (zero = the real value of code 0). Scales and zeros are
float16, rounded outward (zero down, scale up) so every element is in range and the round-trip
error is at most ``scale / 2`` (inputs must fit float16's range). Codes are packed along the
channel axis, lowest bits first (``bit_packing.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from .bit_packing import codes_per_byte, pack_codes, unpack_codes

PARAMETER_DTYPE = torch.float16
_SMALLEST_SCALE = 2.0**-14  # float16's smallest normal: a constant group still gets a usable scale


@dataclass(frozen=True)
class QuantizedKV:
    """One quantized KV segment (see the module docstring for the layout)."""

    key_codes: torch.Tensor
    key_scale: torch.Tensor
    key_zero: torch.Tensor
    value_codes: torch.Tensor
    value_scale: torch.Tensor
    value_zero: torch.Tensor
    bits: int
    group_size: int
    dtype: torch.dtype

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(B, Hkv, N, D)`` of the k (and v) this segment stores."""
        batch, kv_heads, seq_len, packed = self.key_codes.shape
        return batch, kv_heads, seq_len, packed * codes_per_byte(self.bits)

    @property
    def device(self) -> torch.device:
        return self.key_codes.device

    @property
    def nbytes(self) -> int:
        """Bytes held: packed codes plus scales and zeros of keys and values."""
        return sum(getattr(self, f.name).nbytes for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor))

    def dense_nbytes(self, dtype: torch.dtype = torch.bfloat16) -> int:
        """Bytes the same k and v take unquantized in ``dtype``."""
        batch, kv_heads, seq_len, head_dim = self.shape
        return 2 * batch * kv_heads * seq_len * head_dim * torch.empty((), dtype=dtype).element_size()

    @property
    def compression_vs_bf16(self) -> float:
        """How many times fewer bytes than bf16 k and v."""
        return self.dense_nbytes(torch.bfloat16) / self.nbytes


def round_to_half(x: torch.Tensor, direction: float) -> torch.Tensor:
    """Round float32 ``x`` to float16 towards ``direction`` (-inf: down, +inf: up)."""
    half = x.to(PARAMETER_DTYPE)
    overshoot = (half.float() > x) if direction < 0 else (half.float() < x)
    return torch.where(overshoot, torch.nextafter(half, torch.full_like(half, direction)), half)


def quantize_last_axis(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Quantize groups laid along the last axis: returns ``(codes uint8, scale fp16, zero fp16)``."""
    x = x.float()
    levels = (1 << bits) - 1
    zero = round_to_half(x.amin(dim=-1), float("-inf"))
    span = x.amax(dim=-1) - zero.float()
    scale = round_to_half(torch.clamp(span / levels, min=_SMALLEST_SCALE), float("inf"))
    codes = torch.round((x - zero.float().unsqueeze(-1)) / scale.float().unsqueeze(-1))
    return codes.clamp_(0, levels).to(torch.uint8), scale, zero


def check_kv_for_quantization(k: torch.Tensor, v: torch.Tensor, bits: int, group_size: int) -> None:
    codes_per_byte(bits)
    if k.dim() != 4 or k.shape != v.shape:
        raise ValueError(f"k and v must both have shape [B, Hkv, N, D], got {list(k.shape)} and {list(v.shape)}")
    if not k.is_floating_point() or not v.is_floating_point():
        raise TypeError(f"k and v must be floating point, got {k.dtype} and {v.dtype}")
    if k.device != v.device:
        raise ValueError(f"k and v must be on the same device, got {k.device} and {v.device}")
    head_dim = k.shape[-1]
    if group_size < 1 or head_dim % group_size:
        raise ValueError(f"group_size must divide the head dim D={head_dim} (values are grouped along channels), "
                         f"got {group_size}")
    if k.shape[2] == 0:
        raise ValueError("cannot quantize an empty KV cache (N=0)")


def quantize_kv(k: torch.Tensor, v: torch.Tensor, bits: int = 4, group_size: int = 64) -> QuantizedKV:
    """Quantize ``k, v [B, Hkv, N, D]``: keys per channel, values per token, ``bits`` in {2, 4}."""
    check_kv_for_quantization(k, v, bits, group_size)
    batch, kv_heads, seq_len, head_dim = k.shape
    num_groups = -(-seq_len // group_size)
    padded_tokens = torch.arange(num_groups * group_size, device=k.device).clamp_(max=seq_len - 1)
    key_groups = k[:, :, padded_tokens].reshape(batch, kv_heads, num_groups, group_size, head_dim)
    key_codes, key_scale, key_zero = quantize_last_axis(key_groups.transpose(-1, -2), bits)
    key_codes = key_codes.transpose(-1, -2).reshape(batch, kv_heads, -1, head_dim)[:, :, :seq_len]
    value_groups = v.reshape(batch, kv_heads, seq_len, head_dim // group_size, group_size)
    value_codes, value_scale, value_zero = quantize_last_axis(value_groups, bits)
    return QuantizedKV(
        key_codes=pack_codes(key_codes, bits), key_scale=key_scale.contiguous(), key_zero=key_zero.contiguous(),
        value_codes=pack_codes(value_codes.reshape(batch, kv_heads, seq_len, head_dim), bits),
        value_scale=value_scale.contiguous(), value_zero=value_zero.contiguous(),
        bits=bits, group_size=group_size, dtype=k.dtype,
    )


def dequantize_kv(qkv: QuantizedKV, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(k, v)`` from a ``QuantizedKV``, in ``dtype`` (default: the dtype they were quantized from)."""
    batch, kv_heads, seq_len, head_dim = qkv.shape
    group = qkv.group_size
    key_codes = unpack_codes(qkv.key_codes, qkv.bits).float()
    key_scale = qkv.key_scale.float().repeat_interleave(group, dim=2)[:, :, :seq_len]
    key_zero = qkv.key_zero.float().repeat_interleave(group, dim=2)[:, :, :seq_len]
    value_codes = unpack_codes(qkv.value_codes, qkv.bits).float()
    value_scale = qkv.value_scale.float().repeat_interleave(group, dim=3)
    value_zero = qkv.value_zero.float().repeat_interleave(group, dim=3)
    out_dtype = dtype or qkv.dtype
    return (key_codes * key_scale + key_zero).to(out_dtype), (value_codes * value_scale + value_zero).to(out_dtype)


def split_by_importance(
    k: torch.Tensor, v: torch.Tensor, important_idx: torch.Tensor
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Split ``k, v [B, Hkv, N, D]`` into the tokens at ``important_idx [B, Hkv, K]`` and the rest.

    Both parts keep the original token order; every (batch, head) keeps the same count K.
    """
    batch, kv_heads, seq_len, head_dim = k.shape
    if important_idx.dim() != 3 or tuple(important_idx.shape[:2]) != (batch, kv_heads):
        raise ValueError(f"important_idx must have shape [B={batch}, Hkv={kv_heads}, K], "
                         f"got {list(important_idx.shape)}")
    is_important = torch.zeros(batch, kv_heads, seq_len, dtype=torch.int8, device=k.device)
    is_important.scatter_(2, important_idx.long(), 1)
    if int(is_important.sum()) != important_idx.numel():
        raise ValueError("important_idx must hold distinct positions per (batch, head)")
    order = torch.argsort(is_important, dim=2, descending=True, stable=True)
    num_important = important_idx.shape[2]

    def take(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return torch.gather(x, 2, index.unsqueeze(-1).expand(-1, -1, -1, head_dim))

    important, rest = order[:, :, :num_important], order[:, :, num_important:]
    return (take(k, important), take(v, important)), (take(k, rest), take(v, rest))


def quantize_kv_mixed(
    k: torch.Tensor, v: torch.Tensor, important_idx: torch.Tensor, *, bits: tuple[int, int] = (4, 2),
    group_size: int = 64,
) -> list[QuantizedKV]:
    """Important tokens at ``bits[0]``, the others at ``bits[1]`` (ZipVL): one segment each.

    Decode attention over the list (``quantized_decode_attention``) attends to both segments. A
    segment with no token is left out.
    """
    (k_important, v_important), (k_rest, v_rest) = split_by_importance(k, v, important_idx)
    segments = []
    for seg_k, seg_v, seg_bits in ((k_important, v_important, bits[0]), (k_rest, v_rest, bits[1])):
        if seg_k.shape[2] > 0:
            segments.append(quantize_kv(seg_k, seg_v, bits=seg_bits, group_size=group_size))
    return segments
