"""mmcache's cache layer for transformers language models: a ``DynamicLayer`` whose tokens can be dropped or quantized.

Each layer keeps the keys and values of the tokens it still holds (after rotary embedding, so a kept
token keeps its position), the original index of each of them (``positions``), and how many tokens
it has seen in all (``seen``). ``get_seq_length`` reports ``seen``: transformers derives the next
token's position (1D or multimodal RoPE) and the slicing of ``generate``'s inputs from it, so
positions continue from the uncompressed length whatever a method dropped. Quantized segments
(``kernels.QuantizedKV``, ZipVL's mixed precision) are held beside the dense part.

A layer announces itself to ``LiveLayers`` on every ``update``; the attention function of the same
module, called right after, takes it from there (transformers does not pass the cache to it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer

from ..errors import ConfigError
from .scoring import gather_tokens


class LiveLayers:
    """Which cache layer each decoder layer updated in the forward in progress."""

    def __init__(self) -> None:
        self._updated: dict[int, "PrunableLayer"] = {}

    def offer(self, layer: "PrunableLayer") -> None:
        self._updated[layer.index] = layer

    def take(self, index: int) -> "PrunableLayer | None":
        """The layer updated just before this attention call (``None``: the forward runs without a cache)."""
        return self._updated.pop(index, None)


@dataclasses.dataclass
class QuantizedPart:
    """Quantized tokens of one layer: the packed segment and the original index of each token ``[B, Hk, n]``."""

    segment: Any  # kernels.QuantizedKV
    positions: torch.Tensor

    @property
    def nbytes(self) -> int:
        return int(self.segment.nbytes)


class PrunableLayer(DynamicLayer):
    """A dynamic cache layer that methods can compress (see the module docstring)."""

    is_croppable = False

    def __init__(self, index: int, live: LiveLayers) -> None:
        super().__init__()
        self.index = index
        self.live = live
        self.seen = 0
        self.positions: torch.Tensor | None = None  # [B, Hk, K]; None while the layer holds every token in order
        self.quantized: list[QuantizedPart] = []
        self.state: dict[str, Any] = {}  # what a method keeps per layer (e.g. PrefixKV's eviction slot)

    # -- what transformers calls --------------------------------------------------------------
    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = super().update(key_states, value_states)
        new = key_states.shape[-2]
        if self.positions is not None:
            fresh = torch.arange(self.seen, self.seen + new, device=self.positions.device)
            fresh = fresh.view(1, 1, -1).expand(self.positions.shape[0], self.positions.shape[1], -1)
            self.positions = torch.cat([self.positions, fresh], dim=-1)
        self.seen += new
        self.live.offer(self)
        return keys, values

    def get_seq_length(self) -> int:
        """Tokens seen, kept or not: the next token's index."""
        return self.seen

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.seen + query_length, 0

    def reset(self) -> None:
        super().reset()
        self.seen = 0
        self.positions = None
        self.quantized = []
        self.state = {}

    def crop(self, tokens_to_remove: int) -> None:
        raise ConfigError("mmcache's compressed KV cache cannot be cropped (assisted or speculative decoding); "
                          "disable the KV method for this generation.")

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._select_rows(beam_idx)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._select_rows(indices)

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._select_rows(torch.arange(self.keys.shape[0] if self.keys is not None else 0).repeat_interleave(repeats))

    def _select_rows(self, rows: torch.Tensor) -> None:
        if self.quantized:
            raise ConfigError("mmcache's quantized KV cache cannot be reordered (beam search); use num_beams=1.")
        if self.keys is not None and self.keys.numel():
            rows = rows.to(self.keys.device)
            self.keys, self.values = self.keys[rows], self.values[rows]
        if self.positions is not None:
            self.positions = self.positions[rows.to(self.positions.device)]

    # -- what methods call ----------------------------------------------------------------------
    @property
    def contiguous(self) -> bool:
        """Whether the layer still holds every token it saw, in order, unquantized."""
        return self.positions is None and not self.quantized

    def token_positions(self) -> torch.Tensor:
        """``[B, Hk, K]`` original index of every dense token held (Hk is 1 when all heads hold the same tokens)."""
        if self.positions is not None:
            return self.positions
        batch = self.keys.shape[0] if self.keys is not None and self.keys.dim() == 4 else 1
        held = self.keys.shape[-2] if self.keys is not None and self.keys.dim() == 4 else 0
        device = self.keys.device if self.keys is not None else None
        return torch.arange(held, device=device).view(1, 1, -1).expand(batch, 1, -1)

    @property
    def kept_tokens(self) -> int:
        """Tokens held per head (dense and quantized)."""
        dense = self.keys.shape[-2] if self.keys is not None and self.keys.dim() == 4 else 0
        return dense + sum(int(part.positions.shape[-1]) for part in self.quantized)

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the dense tokens at ``index`` (``[B, Hk, K]`` indices into the dense part, in order)."""
        positions = self.token_positions()
        heads = max(positions.shape[1], index.shape[1])
        self.positions = positions.expand(-1, heads, -1).gather(2, index.expand(-1, heads, -1))
        self.keys, self.values = gather_tokens(self.keys, index), gather_tokens(self.values, index)

    def replace(self, keys: torch.Tensor, values: torch.Tensor, positions: torch.Tensor,
                quantized: list[QuantizedPart]) -> None:
        """Set the dense part (possibly empty) and the quantized parts at once."""
        self.keys, self.values, self.positions, self.quantized = keys, values, positions, quantized

    @property
    def nbytes(self) -> int:
        """Bytes held: dense keys and values plus quantized segments (positions not counted)."""
        dense = 0 if self.keys is None or self.keys.dim() != 4 else 2 * self.keys.numel() * self.keys.element_size()
        return dense + sum(part.nbytes for part in self.quantized)

    def full_nbytes(self, reference: torch.Tensor | None = None) -> int:
        """Bytes every token seen would take in the dense dtype (the uncompressed cache)."""
        sample = reference if reference is not None else self.keys
        if sample is None or sample.dim() != 4:
            return 0
        batch, heads, _, dim = sample.shape
        return 2 * batch * heads * self.seen * dim * sample.element_size()


def new_cache(num_layers: int, live: LiveLayers) -> Cache:
    """A transformers ``Cache`` of ``num_layers`` ``PrunableLayer``s."""
    return Cache(layers=[PrunableLayer(index, live) for index in range(num_layers)])


def is_mmcache_cache(cache: Any) -> bool:
    return isinstance(cache, Cache) and bool(cache.layers) and all(isinstance(layer, PrunableLayer)
                                                                   for layer in cache.layers)
