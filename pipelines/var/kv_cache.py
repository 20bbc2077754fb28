"""The KV cache of scale-by-scale sampling: one object per transformer block, replaceable per layer.

While sampling, each block's attention (``blocks[i].attn``) hands the queries, keys and values of the scale
it is computing to its cache and gets the attention output back, through one call::

    out = attn.kv_cache.attend(q, k, v, scale=si, softmax_scale=attn.scale)   # all [B, H, l, D] → [B, H, l, D]

``KVCache.attend`` appends ``k``/``v`` (``append(k, v, scale)``), reads everything stored
(``keys_values() -> (k, v)``, ``[B, H, L, D]`` over the scales so far) and runs one attention call:
queries of scale ``si`` see every key of scales ``≤ si``, so no mask is needed. ``B`` holds both CFG
branches (conditional first, then unconditional), ``H`` the heads, ``L`` the tokens of all scales so far.

A method that compresses the cache (e.g. keeps per-head subsets of tokens, with heads grouped by kind and
one attention call per group) subclasses ``KVCache`` and overrides ``append`` / ``keys_values`` or
``attend``, and installs it without touching the model's code::

    transformer.kv_cache_factory = lambda layer: HeadAwareCache(layer, ...)   # called per block, per run

The factory is called once per block at the start of every sampling run (``layer`` is the block index);
``transformer.kv_cache_factory = KVCache`` restores the plain cache. ``attn.cached_k`` / ``attn.cached_v``
read the stored tensors as VAR names them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class KVCache:
    """Keys and values of one block, concatenated along the token axis, ``[B, H, L, D]``."""

    def __init__(self, layer: int = 0) -> None:
        self.layer = layer
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def append(self, k: torch.Tensor, v: torch.Tensor, scale: int) -> None:
        """Stores scale ``scale``'s keys and values (``[B, H, l, D]``) after the earlier scales'."""
        del scale
        self.k = k if self.k is None else torch.cat((self.k, k), dim=2)
        self.v = v if self.v is None else torch.cat((self.v, v), dim=2)

    def keys_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Everything stored, ``([B, H, L, D], [B, H, L, D])``."""
        if self.k is None or self.v is None:
            raise RuntimeError("The KV cache is empty: append a scale's keys and values first.")
        return self.k, self.v

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: int,
               softmax_scale: float) -> torch.Tensor:
        """Appends this scale's ``k``/``v`` and attends ``q`` over all stored tokens, ``[B, H, l, D]``."""
        self.append(k, v, scale)
        keys, values = self.keys_values()
        return F.scaled_dot_product_attention(q, keys, values, scale=softmax_scale)
