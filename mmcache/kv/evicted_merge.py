"""Merging evicted tokens into kept ones (LOOK-M's averaged merge, which HACK applies after eviction).

Each evicted token goes to the kept token of the same head whose key is most similar to its own (cosine);
a kept token's key and value become the mean of its own and those of every evicted token it received.
Attention over the kept tokens then still sees something of what was dropped, at no extra memory. A merged
token counts as one token when it absorbs more later, so what it took in earlier fades by half each time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .scoring import gather_tokens


def evicted_indices(length: int, keep: torch.Tensor) -> torch.Tensor:
    """``[B, h, length − c]`` indices (ascending) of the tokens not in ``keep`` (``[B, h, c]``, distinct per head)."""
    dropped = torch.ones(*keep.shape[:-1], length, dtype=torch.bool, device=keep.device).scatter_(-1, keep, False)
    order = dropped.to(torch.int8).argsort(dim=-1, descending=True, stable=True)
    return order[..., : length - keep.shape[-1]].sort(dim=-1).values


def keep_and_merge(keys: torch.Tensor, values: torch.Tensor,
                   keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Kept keys and values ``[B, h, c, D]``, each the mean of itself and the evicted tokens merged into it.

    The sums are one float32 matrix product with the one-hot assignment (``[B, h, evicted, c]``), not atomic
    scatters: the same inputs give the same bits on every device and run."""
    kept_keys, kept_values = gather_tokens(keys, keep), gather_tokens(values, keep)
    if keep.shape[-1] >= keys.shape[2]:
        return kept_keys, kept_values
    dropped = evicted_indices(keys.shape[2], keep)
    dropped_keys, dropped_values = gather_tokens(keys, dropped).float(), gather_tokens(values, dropped).float()
    similarity = F.normalize(dropped_keys, dim=-1) @ F.normalize(kept_keys.float(), dim=-1).transpose(-1, -2)
    nearest = similarity.argmax(dim=-1, keepdim=True)
    assignment = similarity.zero_().scatter_(-1, nearest, 1.0).transpose(-1, -2)  # [B, h, c, evicted]
    members = 1.0 + assignment.sum(dim=-1, keepdim=True)
    merged_keys = (kept_keys.float() + assignment @ dropped_keys) / members
    merged_values = (kept_values.float() + assignment @ dropped_values) / members
    return merged_keys.to(keys.dtype), merged_values.to(values.dtype)
