"""How many tokens each layer keeps: a share of the attention mass, one global threshold, a pyramid.

* ``share_count`` (ZipVL): the fewest tokens whose scores hold a ``tau`` share of the layer's total,
  so the kept ratio follows each layer's (and each input's) attention distribution.
* ``cumulative_priority`` / ``global_threshold_evictions`` (PrefixKV): per layer, the sorted
  normalized cumulative score curve ``P_l(k)``; one threshold ``p`` shared by all layers, found by
  binary search, gives layer ``l`` the fewest tokens with ``P_l(k) ≥ p``, and the total evicted
  meets the budget.
* ``pyramid_budgets`` (PyramidKV): budgets falling linearly from the first layer to the last.
"""

from __future__ import annotations

import torch


def share_count(scores: torch.Tensor, tau: float) -> int:
    """Fewest tokens holding a ``tau`` share of each row's total score, the most over rows (``scores [B, L]``)."""
    length = scores.shape[-1]
    if tau >= 1.0:
        return length
    ordered = scores.float().sort(dim=-1, descending=True).values
    cumulative = ordered.cumsum(dim=-1)
    target = tau * cumulative[..., -1:]
    counts = (cumulative < target).sum(dim=-1) + 1
    return int(counts.clamp(max=length).max())


def cumulative_priority(scores: torch.Tensor) -> torch.Tensor:
    """``P(k)``, ``[..., L]``: the share of the total held by the ``k + 1`` highest scores (non-decreasing, ends at 1)."""
    ordered = scores.double().sort(dim=-1, descending=True).values
    total = ordered.sum(dim=-1, keepdim=True)
    return ordered.cumsum(dim=-1) / torch.where(total > 0, total, 1.0)


def evictions_at(curves: torch.Tensor, threshold: float, protected: int) -> torch.Tensor:
    """Tokens each layer evicts when it keeps the fewest with ``P(k) ≥ threshold`` (plus ``protected`` ones)."""
    length = curves.shape[-1]
    reach = torch.full((curves.shape[0], 1), threshold, dtype=curves.dtype, device=curves.device)
    kept = torch.searchsorted(curves.contiguous(), reach).squeeze(-1) + 1
    return (length - kept - protected).clamp(min=0)


def global_threshold_evictions(scores: torch.Tensor, evict_fraction: float, protected: int,
                               tolerance: int = 4, steps: int = 60) -> torch.Tensor:
    """Per-layer eviction counts ``[L]`` from one threshold shared by the layers (``scores [L, T]``).

    The threshold is binary-searched until the total evicted is within ``tolerance`` tokens of
    ``evict_fraction × L × T``; the counts are then scaled to meet that total (rounded down, never
    above the evictable ``T − protected`` of a layer).
    """
    layers, length = scores.shape
    target = evict_fraction * layers * length
    if target <= 0:
        return torch.zeros(layers, dtype=torch.long)
    curves = cumulative_priority(scores)
    low, high = 0.0, 1.0
    counts = evictions_at(curves, 0.5, protected)
    for _ in range(steps):
        middle = (low + high) / 2
        counts = evictions_at(curves, middle, protected)
        total = int(counts.sum())
        if abs(total - target) <= tolerance:
            break
        if total < target:  # evicting too few: keep less, lower the threshold
            high = middle
        else:
            low = middle
    if int(counts.sum()) > 0:
        counts = (counts.double() * target / counts.sum()).floor().long()
    return counts.clamp(max=max(length - protected, 0)).cpu()


def pyramid_budgets(mean_tokens: float, num_layers: int, window: int, beta: float = 20.0) -> list[int]:
    """PyramidKV's per-layer budgets: linear from most (first layer) to fewest (last), averaging ``mean_tokens``.

    Of each budget, ``window`` tokens are the observation window; the rest fall from
    ``2·(mean − window) − (mean − window)/beta`` to ``(mean − window)/beta``.
    """
    selectable = max(mean_tokens - window, 0.0)
    fewest = selectable / beta
    most = 2 * selectable - fewest
    if num_layers == 1:
        return [int(round(mean_tokens))]
    step = (most - fewest) / (num_layers - 1)
    return [int(round(window + most - step * layer)) for layer in range(num_layers)]
