"""The attention mask of a language model whose layers keep different tokens.

transformers builds one mask per forward, sized from the first layer's cache. When each layer keeps
its own subset of the earlier tokens, that mask fits none of the compressed layers. ``KVMask``
carries what the mask was made of instead: the mask the model's own attention would have received
(``dense``, for layers that still hold every token), the 2D padding mask over original token
indices, the query offset and the model's mask function; ``allowed`` evaluates them at the original
indices of the tokens a layer kept.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch


def causal(batch_idx: Any, head_idx: Any, q_idx: Any, kv_idx: Any) -> Any:
    """A query sees the keys at or before its own index (transformers' causal mask function)."""
    return kv_idx <= q_idx


@dataclasses.dataclass
class KVMask:
    """One forward's mask description (see the module docstring); built by mmcache's mask function.

    Attributes:
        dense: what the model's own attention implementation would have received as mask.
        padding: ``[B, T]`` bool over original token indices (True = a real token), or ``None``.
        q_offset: original index of the first query.
        q_length: number of queries in this forward.
        mask_function: transformers' index-based mask function (causal, possibly combined).
    """

    dense: Any
    padding: torch.Tensor | None
    q_offset: int
    q_length: int
    batch_size: int
    mask_function: Callable[..., Any] = causal
    causal_pairs_cache: int | None = dataclasses.field(default=None, repr=False, compare=False)

    def query_index(self, device: torch.device) -> torch.Tensor:
        """``[Q]`` original indices of this forward's queries."""
        return torch.arange(self.q_length, device=device) + self.q_offset

    def allowed(self, key_index: torch.Tensor, query_index: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, Hk, Q, K]`` bool: which query sees which key, keys given by original index ``[B, Hk, K]``
        (or ``[K]``, the same for every row); queries by original index ``[Q]`` or ``[B, Q]`` (default: all of
        this forward's queries)."""
        device = key_index.device
        if key_index.dim() == 1:
            key_index = key_index.view(1, 1, -1).expand(self.batch_size, 1, -1)
        query_index = self.query_index(device) if query_index is None else query_index
        queries = query_index.shape[-1]
        rows = query_index.view(-1, 1, queries, 1)
        batch = torch.arange(key_index.shape[0], device=device).view(-1, 1, 1, 1)
        head = torch.zeros(1, 1, 1, 1, dtype=torch.long, device=device)
        allowed = self.mask_function(batch, head, rows, key_index.unsqueeze(2))
        allowed = torch.as_tensor(allowed, device=device).expand(key_index.shape[0], key_index.shape[1], queries,
                                                                 key_index.shape[2])
        if self.padding is not None:
            real = self.padding.to(device).gather(1, key_index.reshape(key_index.shape[0], -1))
            allowed = allowed & real.view(key_index.shape[0], key_index.shape[1], 1, key_index.shape[2])
        return allowed

    def real_queries(self, device: torch.device) -> torch.Tensor:
        """``[B, Q]`` bool: which queries are real tokens (not padding)."""
        if self.padding is None:
            return torch.ones(self.batch_size, self.q_length, dtype=torch.bool, device=device)
        return self.padding.to(device)[:, self.q_offset:self.q_offset + self.q_length]


def padding_over(attention_mask: torch.Tensor | None, length: int) -> torch.Tensor | None:
    """The 2D padding mask as bool over ``length`` original indices, extended with False as transformers does
    (``None`` if there is none)."""
    if attention_mask is None:
        return None
    mask = attention_mask.to(torch.bool)
    if mask.shape[-1] < length:
        mask = torch.nn.functional.pad(mask, (0, length - mask.shape[-1]), value=False)
    return mask
