"""Compacts a block mask into per-query-block lists of live key blocks (what the kernel walks)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .block_sizes import BLOCK_M, BLOCK_N


@dataclass(frozen=True)
class LiveBlocks:
    """Live key blocks per (batch, head, query block), ascending, padded on the right.

    ``indices [B, H, nqb, nkb]`` int32: row ``(b, h, i)`` starts with the ``counts[b, h, i]`` live
    key-block indices; the rest of the row is padding the kernel never reads. Built for sequence
    lengths ``q_len``/``k_len``; with ``causal`` the blocks above the causal diagonal were dropped.
    """

    indices: torch.Tensor
    counts: torch.Tensor
    q_len: int
    k_len: int
    causal: bool

    def to_block_mask(self) -> torch.Tensor:
        """The bool ``[B, H, nqb, nkb]`` mask of the live blocks."""
        num_k_blocks = self.indices.shape[-1]
        slot = torch.arange(num_k_blocks, device=self.indices.device)
        listed = slot < self.counts.unsqueeze(-1)
        mask = torch.zeros((*self.indices.shape[:-1], num_k_blocks + 1), dtype=torch.bool, device=self.indices.device)
        mask.scatter_(-1, torch.where(listed, self.indices.long(), num_k_blocks), True)
        return mask[..., :num_k_blocks]

    @property
    def live_fraction(self) -> float:
        """Fraction of (query block, key block) pairs that are computed."""
        return float(self.counts.sum()) / max(1, self.indices.numel())


def expected_mask_shape(batch: int, heads: int, q_len: int, k_len: int) -> tuple[int, int, int, int]:
    """Shape a block mask must have: ``[B, H, ceil(Nq / BLOCK_M), ceil(Nk / BLOCK_N)]``."""
    return (batch, heads, -(-q_len // BLOCK_M), -(-k_len // BLOCK_N))


def causal_block_keep(q_len: int, k_len: int, device: torch.device) -> torch.Tensor:
    """``[nqb, nkb]`` True where a block holds at least one (query, key) pair allowed by the causal mask.

    Causal is aligned bottom-right: query ``i`` sees key ``j`` iff ``j <= i + (Nk - Nq)``.
    """
    num_q_blocks, num_k_blocks = -(-q_len // BLOCK_M), -(-k_len // BLOCK_N)
    last_query = torch.clamp((torch.arange(num_q_blocks, device=device) + 1) * BLOCK_M, max=q_len) - 1
    first_key = torch.arange(num_k_blocks, device=device) * BLOCK_N
    return first_key[None, :] <= last_query[:, None] + (k_len - q_len)


def compact_block_mask(block_mask: torch.Tensor, *, causal: bool, q_len: int, k_len: int) -> LiveBlocks:
    """Turn a bool ``[B, H, nqb, nkb]`` mask into ``LiveBlocks`` with a cumsum + scatter on its device.

    With ``causal`` the blocks lying wholly above the causal diagonal are dropped too.
    """
    live = block_mask.bool()
    if causal:
        live = live & causal_block_keep(q_len, k_len, live.device)
    num_k_blocks = live.shape[-1]
    counts = live.sum(dim=-1, dtype=torch.int32)
    slots = torch.where(live, live.cumsum(dim=-1) - 1, num_k_blocks)  # dead blocks go to a spare column
    block_ids = torch.arange(num_k_blocks, device=live.device, dtype=torch.int32).expand_as(live)
    indices = torch.zeros((*live.shape[:-1], num_k_blocks + 1), dtype=torch.int32, device=live.device)
    indices.scatter_(-1, slots, block_ids)
    return LiveBlocks(indices=indices[..., :num_k_blocks].contiguous(), counts=counts.contiguous(), q_len=q_len,
                      k_len=k_len, causal=causal)
