"""Float64 attention oracle for the kernel tests, written independently of mmcache.kernels."""

from __future__ import annotations

import torch

TOLERANCE = {torch.bfloat16: 1e-2, torch.float16: 2e-3}


def attention_oracle(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor,
                     scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 softmax(q kᵀ scale) v over ``allowed [B, H, Nq, Nk]``; empty rows: out 0, lse -inf."""
    q, k, v = q.double(), k.double(), v.double()
    group = q.shape[1] // k.shape[1]
    head_of_kv = torch.arange(q.shape[1]) // group
    k, v = k[:, head_of_kv], v[:, head_of_kv]
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q @ k.transpose(-1, -2)) * scale
    scores = torch.where(allowed, scores, torch.tensor(float("-inf"), dtype=torch.float64))
    lse = torch.logsumexp(scores, dim=-1)
    weights = torch.where(allowed, torch.exp(scores - lse.nan_to_num(0.0, neginf=0.0).unsqueeze(-1)), 0.0)
    return weights @ v, lse


def block_mask_elements(block_mask: torch.Tensor, q_len: int, k_len: int, block_m: int, block_n: int) -> torch.Tensor:
    """``allowed[b, h, i, j] = block_mask[b, h, i // block_m, j // block_n]``."""
    rows = torch.arange(q_len) // block_m
    cols = torch.arange(k_len) // block_n
    return block_mask[:, :, rows][:, :, :, cols]


def causal_bottom_right(q_len: int, k_len: int) -> torch.Tensor:
    """Query i sees key j iff j <= i + (k_len - q_len)."""
    return torch.arange(k_len)[None, :] <= torch.arange(q_len)[:, None] + (k_len - q_len)


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out.double() - ref.double()).norm() / ref.double().norm())


def poisoned_empty_like(monkeypatch) -> None:
    """Make ``torch.empty_like`` return NaN-filled tensors, to catch output elements never written."""
    full_like = torch.full_like

    def empty_like(tensor, *args, **kwargs):
        if not (tensor.is_floating_point() and kwargs.get("dtype", tensor.dtype).is_floating_point):
            return full_like(tensor, 0, *args, **kwargs)
        return full_like(tensor, float("nan"), *args, **kwargs)

    monkeypatch.setattr(torch, "empty_like", empty_like)
