"""Which tokens a VAR head keeps after a scale: scores from observation queries, and tiers that always stay.

* ``observed_attention``: the attention ``count`` evenly spaced queries of the current scale pay to each
  cached key (softmax over the head's keys, summed over the queries; HACK's N_obs, 32 by default).
* A selector keeps ``capacity`` tokens per head: lower tiers first, then the higher score. HACK's
  contextual heads have one tier; its structural heads keep the first scales, then the scale just
  computed, then the best-attended of the others; the recent-scales baseline ranks by recency.
"""

from __future__ import annotations

import torch

from .scale_cache import SelectionInput, Selector


def observation_indices(length: int, count: int, device: torch.device) -> torch.Tensor:
    """``min(count, length)`` indices spread evenly over ``0 … length − 1``."""
    if count >= length:
        return torch.arange(length, device=device)
    return ((torch.arange(count, device=device, dtype=torch.float64) + 0.5) * length / count).long()


def observed_attention(selection: SelectionInput, count: int) -> torch.Tensor:
    """``[B, h, L]`` float32: summed softmax attention of ``count`` evenly spaced current-scale queries."""
    queries = selection.queries
    picked = queries.index_select(2, observation_indices(queries.shape[2], count, queries.device))
    logits = torch.matmul(picked.float(), selection.keys.float().transpose(-1, -2)) * selection.softmax_scale
    return logits.softmax(dim=-1).sum(dim=2)


def keep_by_tier(tiers: torch.Tensor, scores: torch.Tensor, capacity: int) -> torch.Tensor:
    """``[B, h, capacity]`` indices: every token of tier 0 first, then tier 1, ...; the higher score within a tier."""
    span = scores.abs().amax(dim=-1, keepdim=True) + 1.0  # no host sync: the offset stays on the device
    ranked = scores - tiers.to(scores.dtype) * 2 * span
    return ranked.topk(capacity, dim=-1).indices


def top_attended(count: int) -> Selector:
    """Keep the tokens the observation queries attend to most (HACK's contextual heads; the uniform top-k)."""

    def select(selection: SelectionInput) -> torch.Tensor:
        return observed_attention(selection, count).topk(selection.capacity, dim=-1).indices

    return select


def structural(count: int, initial_scales: int) -> Selector:
    """HACK's structural heads: the first ``initial_scales`` scales, the scale just computed, then the
    best-attended tokens of the scales between."""

    def select(selection: SelectionInput) -> torch.Tensor:
        scales = selection.layout.scale_of_on(selection.ids.device)[selection.ids]
        tiers = torch.where(scales < initial_scales, 0, torch.where(scales == selection.scale, 1, 2))
        return keep_by_tier(tiers, observed_attention(selection, count), selection.capacity)

    return select


def recent(initial_scales: int) -> Selector:
    """The recent-scales baseline: the first ``initial_scales`` scales (sinks), then the newest tokens."""

    def select(selection: SelectionInput) -> torch.Tensor:
        scales = selection.layout.scale_of_on(selection.ids.device)[selection.ids]
        tiers = (scales >= initial_scales).long()
        return keep_by_tier(tiers, selection.ids.float(), selection.capacity)

    return select
