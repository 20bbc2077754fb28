"""What a KV method of a vision-language model decides, and the prefill attention call it decides on.

A ``KVPolicy`` (one per enabled model) is asked twice per layer and generation:

* ``prefill``: the first forward of a fresh cache (the prompt). It returns the layer's attention
  output, computed densely through the model's own attention (``PrefillCall.dense``) or sparsely,
  and may then compress the layer's cache (drop tokens, quantize them).
* ``after_decode``: after every later forward of the layer (a generated token); PrefixKV evicts by
  position here to hold its per-layer fraction.

``PrefillCall`` holds one layer's prefill tensors and counts the work done on them the same way for
every method: attention FLOPs are ``4·D`` per (query, key) pair and head that an attention computes
(``QKᵀ`` and ``PV``), scoring FLOPs ``2·D`` per pair and head of a pass that only scores keys.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import TYPE_CHECKING, Any, Callable

import torch

from .mask import KVMask

if TYPE_CHECKING:
    from .layer_cache import PrunableLayer


@dataclasses.dataclass
class PrefillCall:
    """One layer's prefill attention: ``query [B, H, T, D]``, ``key``/``value [B, Hkv, T, D]`` (after RoPE)."""

    layer: int
    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    mask: KVMask
    scale: float
    run_original: Callable[[Any], torch.Tensor]  # the model's own attention with a given mask → [B, T, H, D]
    attention_pairs: int = 0
    scoring_pairs: int = 0
    important_tokens: int | None = None

    @property
    def length(self) -> int:
        return int(self.key.shape[2])

    @property
    def heads(self) -> int:
        return int(self.query.shape[1])

    @property
    def kv_heads(self) -> int:
        return int(self.key.shape[1])

    def real(self) -> torch.Tensor:
        """``[B, T]`` bool: the prompt's real tokens (False: padding)."""
        return self.mask.real_queries(self.query.device)

    def causal_pairs(self, rows: torch.Tensor | None = None) -> int:
        """(query, key) pairs per head the causal mask allows among the real tokens (of the given query rows)."""
        if rows is None and self.mask.causal_pairs_cache is not None:  # the same in every layer of the forward
            return self.mask.causal_pairs_cache
        real = self.real()
        seen = real.long().cumsum(dim=-1) * real  # keys a real query sees: the real tokens up to it
        if rows is not None:
            return int(seen[:, rows].sum())
        self.mask.causal_pairs_cache = int(seen.sum())
        return self.mask.causal_pairs_cache

    def dense(self) -> torch.Tensor:
        """The model's own attention over every token (``[B, T, H, D]``), counted as dense work."""
        self.attention_pairs += self.heads * self.causal_pairs()
        return self.run_original(self.mask.dense)

    def allowed_rows(self, start: int, stop: int) -> torch.Tensor:
        """``[B, 1, stop - start, T]`` mask of query rows ``start..stop`` over every key."""
        keys = torch.arange(self.length, device=self.query.device)
        return self.mask.allowed(keys, self.mask.query_index(self.query.device)[start:stop])

    def allowed_for(self, rows: torch.Tensor) -> torch.Tensor:
        """``[B, 1, len(rows), T]`` mask of the given query rows over every key."""
        keys = torch.arange(self.length, device=self.query.device)
        return self.mask.allowed(keys, self.mask.query_index(self.query.device)[rows])

    def flops(self, pairs: int, per_pair: int) -> int:
        return per_pair * int(self.query.shape[-1]) * pairs

    @property
    def dense_flops(self) -> int:
        return self.flops(self.heads * self.causal_pairs(), 4)

    @property
    def attention_flops(self) -> int:
        return self.flops(self.attention_pairs, 4)

    @property
    def scoring_flops(self) -> int:
        return self.flops(self.scoring_pairs, 2)


class KVPolicy(abc.ABC):
    """Base class of the KV methods of vision-language models; one instance per enabled model."""

    method: str = ""

    def start_run(self) -> None:
        """A new prompt: forget per-generation state (the layers' own state lives on the cache layers)."""

    @abc.abstractmethod
    def prefill(self, call: PrefillCall, layer: "PrunableLayer | None") -> torch.Tensor:
        """The layer's prefill attention output ``[B, T, H, D]``; may compress ``layer`` (``None``: no cache)."""

    def after_decode(self, layer: "PrunableLayer") -> None:
        """Called after each later forward of the layer (a generated token); default: nothing."""
