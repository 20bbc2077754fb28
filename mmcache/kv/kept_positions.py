"""Which prompt positions each layer's KV cache kept once the prompt went through every layer.

``KVRecorder`` takes a ``KeptPositions`` of every layer at the end of the prefill (what
``KVLayerStats.prefill_kept`` counts: dense and quantized tokens alike), so tokens a method evicts
later while decoding (PrefixKV) still count as kept by the prefill. The snapshot holds references to
the layer's index tensors, which the cache layer only ever replaces, never changes in place: taking
it costs nothing. ``KVCacheHandle.kept_prompt_positions()`` returns them; ``kept_share`` summarises
them per position.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Sequence

import torch

if TYPE_CHECKING:
    from .layer_cache import PrunableLayer


@dataclasses.dataclass(frozen=True)
class KeptPositions:
    """The prompt positions one layer held after the prefill.

    ``parts``: ``[B, Hk, K]`` original indices of the held tokens (the dense part, then each quantized
    part; ``Hk`` is 1 where every head holds the same tokens); empty when the layer held every prompt
    token (it compressed nothing, or ran without a cache).
    """

    layer: int
    prompt_tokens: int
    batch: int
    parts: tuple[torch.Tensor, ...] = ()

    @classmethod
    def of(cls, index: int, prompt_tokens: int, batch: int, layer: "PrunableLayer | None") -> "KeptPositions":
        """The snapshot of ``layer`` (``None``: a forward without a cache, which keeps everything)."""
        if layer is None or layer.contiguous:
            return cls(index, prompt_tokens, batch)
        parts = (layer.token_positions(), *(part.positions for part in layer.quantized))
        return cls(index, prompt_tokens, batch, parts)

    @property
    def heads(self) -> int:
        """Key/value heads that select separately (1 when every head keeps the same tokens)."""
        return max((int(part.shape[1]) for part in self.parts), default=1)

    def mask(self) -> torch.Tensor:
        """``[B, heads, prompt_tokens]`` bool on the CPU: True where the layer kept the position."""
        if not self.parts:
            return torch.ones(self.batch, 1, self.prompt_tokens, dtype=torch.bool)
        kept = torch.zeros(self.batch, self.heads, self.prompt_tokens, dtype=torch.bool)
        for part in self.parts:
            index = part.detach().to("cpu", torch.long).expand(self.batch, self.heads, -1)
            kept.scatter_(2, index, True)
        return kept

    @property
    def kept_tokens(self) -> int:
        """Positions kept per head, counted as ``KVLayerStats.prefill_kept`` does (the first row and head)."""
        return int(self.mask()[0, 0].sum())


def kept_share(layers: Sequence[KeptPositions]) -> torch.Tensor:
    """``[B, T]`` float: for each prompt position, the share of layers that kept it, each layer counting the
    share of its heads that kept it (so with per-head selection: the share of layers × heads)."""
    if not layers:
        raise ValueError("No kept positions: run a prompt with a KV method enabled first.")
    lengths = {layer.prompt_tokens for layer in layers}
    if len(lengths) != 1:
        raise ValueError(f"The layers saw prompts of different lengths {sorted(lengths)}; they are not one run.")
    return torch.stack([layer.mask().float().mean(dim=1) for layer in layers]).mean(dim=0)
