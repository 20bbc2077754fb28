"""A VAR block's KV cache with per-head-group budgets: one attention call per group, compression after each scale.

Heads are split into groups (HACK: contextual and structural heads; a baseline: one group of all heads).
Every head of a group keeps the same number of tokens, so a group's cache is one dense
``[B, h, n, D]`` tensor and its attention one ``scaled_dot_product_attention`` call: no ragged loops.
While scale ``s`` is sampled, each group attends over its kept tokens plus scale ``s``'s own keys; then,
when that is more than the group's ``capacity``, its selector picks the ``capacity`` tokens each head
keeps (a gather; with ``merge_evicted``, the dropped tokens are averaged into their most similar kept ones).
The last scale's keys are never stored: nothing reads them again.

With ``record_kept`` on, each scale's ``ScaleRecord`` also carries, per head group, the sequence positions its
heads kept for the first batch row (``KeptTokens``: a small int tensor on the CPU, copied there after every scale,
so recording syncs a GPU); off (the default), nothing is copied.

The object answers the pipeline's cache interface (``attend``, ``append``, ``keys_values``, ``k`` / ``v``)
duck-typed, so the core does not import the pipeline.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Protocol

import torch
import torch.nn.functional as F

from .evicted_merge import keep_and_merge
from .scoring import gather_tokens
from .scale_layout import ScaleLayout


@dataclasses.dataclass(frozen=True)
class SelectionInput:
    """What a selector sees for one head group after scale ``scale`` attended (tensors over the group's heads)."""

    layer: int
    scale: int
    queries: torch.Tensor  # [B, h, l, D] the scale's queries
    keys: torch.Tensor  # [B, h, L, D] kept tokens + the scale's keys
    ids: torch.Tensor  # [B, h, L] sequence position of each of those tokens
    softmax_scale: float
    capacity: int
    layout: ScaleLayout


class Selector(Protocol):
    def __call__(self, selection: SelectionInput) -> torch.Tensor:
        """``[B, h, capacity]`` indices (into the L axis) of the tokens each head keeps."""


@dataclasses.dataclass(frozen=True)
class HeadGroup:
    """Heads that share a budget and a way of choosing tokens."""

    name: str
    heads: tuple[int, ...]
    capacity: int  # tokens each head keeps after compression
    selector: Selector
    merge_evicted: bool = False  # fold evicted tokens into their most similar kept token (``evicted_merge``)


@dataclasses.dataclass(frozen=True)
class KeptTokens:
    """One head group's tokens kept after a scale, for the first batch row: ``ids [heads, n]`` sequence positions."""

    group: str
    heads: tuple[int, ...]
    ids: torch.Tensor


@dataclasses.dataclass
class ScaleRecord:
    """One block at one scale: tokens its heads attended over and kept afterwards (summed over heads), and with
    ``record_kept`` which tokens each head group kept (in the block's group order; none kept after the last scale)."""

    layer: int
    scale: int
    queries: int  # tokens of the scale (per batch row)
    read: int  # Σ over heads of keys attended
    kept: int  # Σ over heads of tokens stored after compression
    heads: int
    head_dim: int
    batch: int
    element_size: int
    kept_tokens: tuple[KeptTokens, ...] | None = None


class _GroupState:
    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.ids: torch.Tensor | None = None


class GroupedScaleCache:
    """One block's cache: per head group, kept keys, values and their sequence positions."""

    def __init__(self, layer: int, layout: ScaleLayout, groups: list[HeadGroup],
                 record: Callable[[ScaleRecord], None] | None = None, record_kept: bool = False) -> None:
        heads = sorted(head for group in groups for head in group.heads)
        if heads != list(range(len(heads))):
            raise ValueError(f"Head groups must cover heads 0 … H−1 once each, got {heads}.")
        self.layer, self.layout, self.groups, self.record = layer, layout, groups, record
        self.record_kept = record_kept and record is not None
        self._id_dtype = torch.int16 if layout.total_tokens <= 2**15 else torch.int32
        self.num_heads = len(heads)
        self._states = [_GroupState() for _ in groups]
        self._index = [torch.tensor(group.heads) for group in groups]

    # -- the pipeline's cache interface --------------------------------------------------------------
    @property
    def k(self) -> torch.Tensor | None:
        return None if self._states[0].k is None else self.keys_values()[0]

    @property
    def v(self) -> torch.Tensor | None:
        return None if self._states[0].v is None else self.keys_values()[1]

    def keys_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Kept keys and values ``[B, H, n, D]`` in head order; only when every head keeps as many tokens."""
        states = [state for state in self._states if state.k is not None]
        if not states:
            raise RuntimeError("The KV cache is empty: append a scale's keys and values first.")
        lengths = {state.k.shape[2] for state in states}
        if len(lengths) > 1 or len(states) != len(self._states):
            raise RuntimeError(f"Heads of this cache keep different numbers of tokens ({sorted(lengths)}); read "
                               "each head group from `groups` / `group_tensors(i)` instead.")
        order = torch.argsort(torch.cat(self._index))
        k = torch.cat([state.k for state in self._states], dim=1)[:, order]
        v = torch.cat([state.v for state in self._states], dim=1)[:, order]
        return k, v

    def group_tensors(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """Group ``index``'s kept ``(keys, values, ids)``, or ``None`` before the first scale."""
        state = self._states[index]
        return None if state.k is None else (state.k, state.v, state.ids)

    def append(self, k: torch.Tensor, v: torch.Tensor, scale: int) -> None:
        """Stores scale ``scale``'s keys and values (compressing to each group's capacity needs queries: use
        ``attend``)."""
        self._move_index(k.device)
        for state, index in zip(self._states, self._index):
            self._store(state, *self._joined(state, index, k, v, scale))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: int,
               softmax_scale: float) -> torch.Tensor:
        """Attends scale ``scale``'s queries over each group's kept tokens and the scale's own, then compresses."""
        whole = len(self.groups) == 1
        out = None if whole else torch.empty_like(q)
        last = scale == self.layout.num_scales - 1
        read = kept = 0
        kept_tokens: list[KeptTokens] = []
        self._move_index(q.device)
        for group, state, index in zip(self.groups, self._states, self._index):
            keys, values, ids = self._joined(state, index, k, v, scale)
            queries = q if whole else q.index_select(1, index)
            result = F.scaled_dot_product_attention(queries, keys, values, scale=softmax_scale)
            if whole:
                out = result
            else:
                out[:, index] = result
            read += keys.shape[2] * len(group.heads)
            if last:
                state.k = state.v = state.ids = None
                if self.record_kept:
                    kept_tokens.append(self._kept(group, ids[:, :, :0]))
                continue
            if keys.shape[2] > group.capacity:
                selection = SelectionInput(self.layer, scale, queries, keys, ids, softmax_scale, group.capacity,
                                           self.layout)
                keep = group.selector(selection).sort(dim=-1).values
                if group.merge_evicted:
                    keys, values = keep_and_merge(keys, values, keep)
                else:
                    keys, values = gather_tokens(keys, keep), gather_tokens(values, keep)
                ids = ids.gather(2, keep)
            self._store(state, keys, values, ids)
            kept += keys.shape[2] * len(group.heads)
            if self.record_kept:
                kept_tokens.append(self._kept(group, ids))
        if self.record is not None:
            self.record(ScaleRecord(self.layer, scale, q.shape[2], read, kept, self.num_heads, q.shape[-1],
                                    q.shape[0], q.element_size(), tuple(kept_tokens) if self.record_kept else None))
        return out

    # -- helpers ---------------------------------------------------------------------------------------
    def _joined(self, state: _GroupState, index: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                scale: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if len(self.groups) > 1:
            k, v = k.index_select(1, index), v.index_select(1, index)
        begin, end = self.layout.begin_ends[scale]
        if end - begin != k.shape[2]:
            raise ValueError(f"Scale {scale} has {end - begin} tokens in this model's layout, got {k.shape[2]} keys.")
        new_ids = torch.arange(begin, end, device=k.device).expand(k.shape[0], k.shape[1], -1)
        if state.k is None:
            return k, v, new_ids
        return (torch.cat((state.k, k), dim=2), torch.cat((state.v, v), dim=2),
                torch.cat((state.ids, new_ids), dim=2))

    def _kept(self, group: HeadGroup, ids: torch.Tensor) -> KeptTokens:
        return KeptTokens(group.name, group.heads, ids[0].to("cpu", self._id_dtype))

    def _move_index(self, device: torch.device) -> None:
        """The head indices on the tensors' device, moved once (not per group, scale and call)."""
        if self._index[0].device != device:
            self._index = [index.to(device) for index in self._index]

    @staticmethod
    def _store(state: _GroupState, k: torch.Tensor, v: torch.Tensor, ids: torch.Tensor) -> None:
        state.k, state.v, state.ids = k, v, ids

