"""Upper bounds of scale-KV selection on a VAR model: the fidelity that choosing tokens well could reach at a budget.

HACK and its baselines choose, after scale ``s``, which tokens scale ``s + 1`` will read, scored by scale ``s``'s
queries (the next scale's are not known yet). The *lookahead* bounds choose with the reading scale's own queries,
all of them, before its attention: they hold every earlier token (no memory saved; not a method) and read as many
tokens as the methods at the same budget, so they bound what attention-score selection can reach:

* ``lookahead-topk``: each head reads the ``budget`` earlier tokens its scale's queries attend to most (softmax
  over all earlier tokens and the scale's own, summed over the scale's queries), and its own scale;
* ``lookahead-pooled``: a block's heads share their budget: the block reads the ``heads × budget`` (head, earlier
  token) pairs of highest attention, however they fall across heads: the bound for any split of a block's budget
  among its heads, HACK's head classes included (ragged reads are a mask here, which a bound may afford);
* ``lookahead-topk-all``: each head reads only ``budget`` tokens in all, its own scale's included (ranked with the
  earlier ones): the bound for a method whose peak KV stays at the budget, which must leave out part of the
  scale being computed once that scale is larger than the budget.

Both record what they read and hold like ``GroupedScaleCache`` does, so their rows carry the same ratios.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from mmcache.kv.scale_cache import ScaleRecord
from mmcache.kv.scale_layout import ScaleLayout
from mmcache.kv.scoring import attention_received
from mmcache.kv.scale_stats import ScaleKVRecorder, ScaleKVStats
from mmcache.methods.scale_budget import budget_tokens

BOUNDS = ("lookahead-topk", "lookahead-pooled", "lookahead-topk-all")


class LookaheadCache:
    """One block's cache: every earlier token kept; each scale reads the ``capacity`` its own queries rank highest
    (of the earlier tokens, plus its own scale; with ``own_scale_ranked``, of all tokens together)."""

    def __init__(self, layer: int, layout: ScaleLayout, capacity: int, pooled: bool, recorder: ScaleKVRecorder,
                 own_scale_ranked: bool = False) -> None:
        self.layer, self.layout, self.capacity, self.pooled, self.recorder = layer, layout, capacity, pooled, recorder
        self.own_scale_ranked = own_scale_ranked
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: int,
               softmax_scale: float) -> torch.Tensor:
        """Attends scale ``scale``'s queries over its chosen earlier tokens and its own, then stores its keys."""
        batch, heads, length, _ = q.shape
        earlier = 0 if self.k is None else self.k.shape[2]
        keys = k if self.k is None else torch.cat((self.k, k), dim=2)
        values = v if self.v is None else torch.cat((self.v, v), dim=2)
        ranked = earlier + length if self.own_scale_ranked else earlier
        if ranked <= self.capacity:
            out = F.scaled_dot_product_attention(q, keys, values, scale=softmax_scale)
            read = (earlier + length) * heads
        else:
            chosen = self._chosen(q, keys, ranked, softmax_scale)
            if not self.own_scale_ranked:
                chosen = torch.cat((chosen, chosen.new_ones(batch, heads, length)), dim=2)
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=chosen[:, :, None, :], scale=softmax_scale)
            read = (self.capacity + keys.shape[2] - ranked) * heads
        last = scale == self.layout.num_scales - 1
        self.k, self.v = (None, None) if last else (keys, values)
        self.recorder.record(ScaleRecord(self.layer, scale, length, read, 0 if last else keys.shape[2] * heads, heads,
                                         q.shape[-1], batch, q.element_size()))
        return out

    def _chosen(self, q: torch.Tensor, keys: torch.Tensor, ranked: int, softmax_scale: float) -> torch.Tensor:
        """``[B, H, ranked]`` bool: which of the first ``ranked`` tokens each head reads."""
        scores = attention_received(q, keys, lambda start, stop: None, softmax_scale)[..., :ranked]
        batch, heads, _ = scores.shape
        if self.pooled:
            flat = scores.reshape(batch, heads * ranked)
            top = flat.topk(heads * self.capacity, dim=-1).indices
            return torch.zeros_like(flat, dtype=torch.bool).scatter(1, top, True).reshape(batch, heads, ranked)
        top = scores.topk(self.capacity, dim=-1).indices
        return torch.zeros_like(scores, dtype=torch.bool).scatter(2, top, True)


@dataclasses.dataclass(frozen=True)
class LookaheadBound:
    """The lookahead bound ``method`` (one of ``BOUNDS``) at ``budget``: the share of all scales' tokens a head reads of
    the ranked ones."""

    method: str
    budget: float
    behaviour_version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if self.method not in BOUNDS:
            raise ValueError(f"Unknown bound {self.method!r}; choose one of {', '.join(BOUNDS)}.")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "budget": self.budget}

    def enable(self, pipe: Any) -> "LookaheadHandle":
        """Installs the bound's caches on ``pipe``'s VAR transformer until the handle's ``disable``."""
        from mmcache.families.registry import resolve_var

        resolved = resolve_var(pipe)
        adapter, transformer = resolved.adapter, resolved.transformer
        layout = adapter.layout(transformer)
        recorder = ScaleKVRecorder(self.method, layout)
        capacity = budget_tokens(self.budget, layout)
        pooled, own_scale_ranked = self.method == "lookahead-pooled", self.method == "lookahead-topk-all"
        restore = adapter.install(transformer, lambda layer: LookaheadCache(layer, layout, capacity, pooled, recorder,
                                                                            own_scale_ranked))
        return LookaheadHandle(recorder, restore)


@dataclasses.dataclass
class LookaheadHandle:
    """What ``generate_one`` needs of a handle: the last run's stats and a way back to the plain cache."""

    recorder: ScaleKVRecorder
    restore: Any

    def stats(self) -> ScaleKVStats:
        """The latest sampling run's reads and holdings (empty before the first)."""
        latest = self.recorder.current() or (self.recorder.history[-1] if self.recorder.history else None)
        return latest or ScaleKVStats(self.recorder.method, (), self.recorder.layout)

    def disable(self) -> None:
        self.restore()
