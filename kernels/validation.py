"""Input checks shared by the attention entry points: one clear error per problem."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .block_sizes import SUPPORTED_HEAD_DIMS

ATTENTION_DTYPES = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class AttentionShape:
    """Sizes of a ``[B, H, N, D]`` attention problem (``kv_heads`` divides ``heads``)."""

    batch: int
    heads: int
    kv_heads: int
    q_len: int
    k_len: int
    head_dim: int

    @property
    def kv_group_size(self) -> int:
        return self.heads // self.kv_heads


def check_same_device(**tensors: torch.Tensor) -> None:
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        listed = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise ValueError(f"all tensors must be on the same device, got {listed}")


def check_attention_dtype(name: str, tensor: torch.Tensor) -> None:
    if tensor.dtype not in ATTENTION_DTYPES:
        raise TypeError(f"{name} must be float16 or bfloat16, got {tensor.dtype}")


def check_head_dim(head_dim: int) -> None:
    if head_dim not in SUPPORTED_HEAD_DIMS:
        raise ValueError(f"head dim D={head_dim} is not supported; supported: {SUPPORTED_HEAD_DIMS}")


def check_gqa(heads: int, kv_heads: int) -> None:
    if kv_heads < 1 or heads % kv_heads != 0:
        raise ValueError(
            f"q has {heads} heads and k/v have {kv_heads}: the number of q heads must be a multiple of the "
            "number of k/v heads (grouped-query attention)"
        )


def check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> AttentionShape:
    """Validate ``q [B, H, Nq, D]`` and ``k, v [B, Hkv, Nk, D]``; return the sizes."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.dim() != 4:
            raise ValueError(f"{name} must have shape [B, H, N, D], got {tuple(t.shape)}")
    check_same_device(q=q, k=k, v=v)
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_attention_dtype(name, t)
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k and v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if k.shape != v.shape:
        raise ValueError(f"k and v must have the same shape, got {tuple(k.shape)} and {tuple(v.shape)}")
    batch, heads, q_len, head_dim = q.shape
    if k.shape[0] != batch:
        raise ValueError(f"q has batch {batch} but k/v have batch {k.shape[0]}")
    if k.shape[3] != head_dim:
        raise ValueError(f"q has head dim {head_dim} but k/v have {k.shape[3]}")
    check_head_dim(head_dim)
    check_gqa(heads, k.shape[1])
    if q_len == 0 or k.shape[2] == 0:
        raise ValueError(f"sequence lengths must be positive, got Nq={q_len}, Nk={k.shape[2]}")
    return AttentionShape(batch, heads, k.shape[1], q_len, k.shape[2], head_dim)


def default_scale(scale: float | None, head_dim: int) -> float:
    """``scale`` or ``1/sqrt(D)``."""
    if scale is None:
        return head_dim**-0.5
    scale = float(scale)
    if not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale}")
    return scale
