"""Packs 2- or 4-bit codes into bytes along the last axis, and back.

Element ``j`` of a byte group sits in bits ``[j * bits, (j + 1) * bits)`` of byte ``j // (8 // bits)``:
lowest bits first. The decode kernel unpacks the same way: ``(byte >> (d % per_byte) * bits) & mask``.
"""

from __future__ import annotations

import torch

PACKABLE_BITS = (2, 4)


def codes_per_byte(bits: int) -> int:
    if bits not in PACKABLE_BITS:
        raise ValueError(f"bits must be one of {PACKABLE_BITS}, got {bits}")
    return 8 // bits


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """``uint8 [..., D]`` codes in ``[0, 2**bits)`` -> ``uint8 [..., D * bits / 8]``."""
    per_byte = codes_per_byte(bits)
    if codes.shape[-1] % per_byte:
        raise ValueError(f"the last dim ({codes.shape[-1]}) must be a multiple of {per_byte} to pack {bits}-bit codes")
    grouped = codes.to(torch.int32).reshape(*codes.shape[:-1], -1, per_byte)
    shifts = torch.arange(per_byte, device=codes.device, dtype=torch.int32) * bits
    return (grouped << shifts).sum(dim=-1).to(torch.uint8)


def unpack_codes(packed: torch.Tensor, bits: int) -> torch.Tensor:
    """Inverse of ``pack_codes``: ``uint8 [..., D * bits / 8]`` -> ``uint8 [..., D]``."""
    per_byte = codes_per_byte(bits)
    shifts = torch.arange(per_byte, device=packed.device, dtype=torch.int32) * bits
    codes = (packed.to(torch.int32).unsqueeze(-1) >> shifts) & ((1 << bits) - 1)
    return codes.reshape(*packed.shape[:-1], -1).to(torch.uint8)
