"""ZipVL (arXiv 2410.08584): a per-layer, per-input share of important tokens; sparse prefill; compressed KV.

In every layer of the prompt's prefill:

1. **Probe queries**: the last ``probe_recent`` share of the prompt's tokens plus a random
   ``probe_random`` share of the earlier ones (ZipCache's probes) attend to every key they can see.
2. **Normalized scores**: each key's attention received from the probes, averaged over heads and
   divided by the number of probes that can see it (a causal mask lets early keys be seen by more
   queries; the division removes that bias).
3. **Dynamic ratio**: the layer keeps the fewest tokens whose normalized scores hold a ``tau`` share
   of the total, so the number of important tokens follows the layer's attention distribution.
4. **Sparse prefill**: attention runs among the important tokens only (``kernels.token_subset_attention``
   on CUDA): an important query attends to the important keys before it; the other queries' attention
   is not computed, and their attention output is zero, except for probe queries, whose full
   attention the scoring pass already produced.
5. **KV cache**: version 1 stores important tokens' keys and values at ``important_bits`` and the
   others at ``other_bits`` (2/4-bit ``kernels.quantize_kv``: keys per channel, values per token;
   decoding reads them through ``kernels.quantized_decode_attention``); version 2
   (``drop_unimportant=True``) drops the others. Generated tokens are appended unquantized.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from ..errors import ConfigError
from ..kv.attention import important_token_attention
from ..kv.budgets import share_count
from ..kv.policy import KVPolicy, PrefillCall
from ..kv.scoring import attention_weights, gather_tokens, select_tokens
from .base import MethodConfig, is_number, require

if TYPE_CHECKING:
    from ..kv.layer_cache import PrunableLayer

BITS = (2, 4, 16)
FULL_PRECISION = 16


@dataclasses.dataclass
class ZipVLConfig(MethodConfig):
    """ZipVL for vision-language models (see the module docstring).

    Args:
        tau: share of a layer's normalized attention mass its important tokens hold (1.0 keeps every token).
        probe_recent: share of the prompt's last tokens used as probe queries (at least one token).
        probe_random: share of the prompt's earlier tokens drawn at random as probe queries.
        important_bits: bits of the important tokens' cached keys and values (2, 4, or 16 = unquantized).
        other_bits: bits of the other tokens' (2, 4, or 16); ignored when they are dropped.
        drop_unimportant: drop the other tokens from the cache instead of quantizing them (ZipVL v2).
        group_size: tokens (keys) or channels (values) sharing one quantization scale; divides the head dim.
        seed: seed of the random probe draw (the same probes for the same prompt length).
        backend: ``"auto"`` (the Triton kernel on CUDA fp16/bf16, gathered SDPA otherwise), ``"triton"``
            or ``"reference"`` for the sparse prefill attention.
    """

    method: ClassVar[str] = "zipvl"
    role: ClassVar[str] = "kv"

    tau: float = 0.975
    probe_recent: float = 0.05
    probe_random: float = 0.05
    important_bits: int = 4
    other_bits: int = 2
    drop_unimportant: bool = False
    group_size: int = 32
    seed: int = 0
    backend: str = "auto"

    def validate(self) -> None:
        from mmcache.kernels import BACKENDS

        require(is_number(self.tau) and 0 < self.tau <= 1,
                f"ZipVLConfig.tau must be the share of attention mass kept, in (0, 1], got {self.tau!r}.")
        for name in ("probe_recent", "probe_random"):
            value = getattr(self, name)
            require(is_number(value) and 0 <= value <= 1 and math.isfinite(value),
                    f"ZipVLConfig.{name} must be a share of the prompt's tokens in [0, 1], got {value!r}.")
        for name in ("important_bits", "other_bits"):
            require(getattr(self, name) in BITS and not isinstance(getattr(self, name), bool),
                    f"ZipVLConfig.{name} must be one of {BITS} (16: unquantized), got {getattr(self, name)!r}.")
        require(isinstance(self.drop_unimportant, bool),
                f"ZipVLConfig.drop_unimportant must be True or False, got {self.drop_unimportant!r}.")
        require(isinstance(self.group_size, int) and not isinstance(self.group_size, bool) and self.group_size >= 1,
                f"ZipVLConfig.group_size must be an integer >= 1, got {self.group_size!r}.")
        require(isinstance(self.seed, int) and not isinstance(self.seed, bool),
                f"ZipVLConfig.seed must be an integer, got {self.seed!r}.")
        require(self.backend in BACKENDS, f"ZipVLConfig.backend must be one of {BACKENDS}, got {self.backend!r}.")

    @property
    def quantizes(self) -> bool:
        return self.important_bits < FULL_PRECISION or (not self.drop_unimportant and self.other_bits < FULL_PRECISION)

    def kv_policy(self, target: Any) -> "ZipVLPolicy":
        if self.quantizes:
            head_dim = int(target.attention_modules[0].head_dim)
            require(head_dim % self.group_size == 0,
                    f"ZipVLConfig.group_size ({self.group_size}) must divide the model's head dim ({head_dim}) to "
                    f"quantize its KV cache; pick a divisor such as {math.gcd(self.group_size, head_dim)}.")
        return ZipVLPolicy(self)


def probe_rows(length: int, recent: float, random: float, seed: int, device: torch.device) -> torch.Tensor:
    """Sorted query rows: the last ``ceil(recent·length)`` (at least one) and ``ceil(random·length)`` drawn from the rest."""
    last = max(1, math.ceil(recent * length))
    earlier = length - last
    drawn = min(earlier, math.ceil(random * length))
    rows = torch.arange(earlier, length)
    if drawn:
        generator = torch.Generator().manual_seed(seed)
        rows = torch.cat([torch.randperm(earlier, generator=generator)[:drawn], rows])
    return rows.sort().values.to(device)


def normalized_scores(weights: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """``[B, T]``: attention from the probes (``weights [B, H, P, T]``) averaged over heads, divided by how many
    probes see each key (``visible [B, 1, P, T]``); keys no probe sees score 0."""
    received = weights.sum(dim=2).mean(dim=1)
    count = visible.sum(dim=2).squeeze(1).float()
    return torch.where(count > 0, received / count.clamp(min=1), torch.zeros_like(received))


def complement(index: torch.Tensor, length: int) -> torch.Tensor:
    """The sorted positions ``[B, 1, length − K]`` not in ``index [B, 1, K]``."""
    taken = torch.zeros(index.shape[0], length, dtype=torch.bool, device=index.device)
    taken.scatter_(1, index.squeeze(1), True)
    order = (~taken).long().argsort(dim=1, descending=True, stable=True)
    return order[:, : length - index.shape[-1]].sort(dim=1).values.unsqueeze(1)


class ZipVLPolicy(KVPolicy):
    method = "zipvl"

    def __init__(self, config: ZipVLConfig) -> None:
        self.config = config
        self.backend = config.backend  # also the quantized decode kernel's

    def prefill(self, call: PrefillCall, layer: "PrunableLayer | None") -> torch.Tensor:
        config = self.config
        if config.tau >= 1:
            output = call.dense()
            call.important_tokens = call.length
            if layer is not None and config.important_bits < FULL_PRECISION:
                self._store(call, layer, torch.arange(call.length, device=call.query.device).view(1, 1, -1)
                            .expand(call.query.shape[0], 1, -1))
            return output
        rows = probe_rows(call.length, config.probe_recent, config.probe_random, config.seed + call.layer,
                          call.query.device)
        visible = call.allowed_for(rows)
        weights = attention_weights(call.query[:, :, rows], call.key, visible, call.scale)
        call.attention_pairs += call.heads * call.causal_pairs(rows)  # their outputs are used below
        scores = normalized_scores(weights, visible)
        count = share_count(scores, config.tau)
        call.important_tokens = count
        important = select_tokens(scores.unsqueeze(1), count, None, call.real())
        if count >= call.length:
            output = call.dense()
        else:
            output = self._sparse(call, weights, rows, important)
        if layer is not None:
            self._store(call, layer, important)
        return output

    def _sparse(self, call: PrefillCall, weights: torch.Tensor, rows: torch.Tensor,
                important: torch.Tensor) -> torch.Tensor:
        """Attention among the important tokens; probe rows take their full attention from the scoring pass."""
        query, key, value = call.query, call.key, call.value
        values = value.repeat_interleave(call.heads // call.kv_heads, dim=1).float()
        probe_output = torch.matmul(weights, values).to(query.dtype)
        fill = torch.zeros_like(query)  # the probe rows are set below, after the kernel
        allowed = None
        if call.mask.padding is not None:
            positions = important.expand(query.shape[0], 1, -1)
            allowed = call.mask.allowed(positions, call.mask.q_offset + positions[:, 0])
        output = important_token_attention(query, key, value, important, fill, call.scale, allowed,
                                           self.config.backend)
        output[:, :, rows] = probe_output
        kept = important.shape[-1]
        call.attention_pairs += call.heads * call.query.shape[0] * kept * (kept + 1) // 2
        return output.transpose(1, 2)

    def _store(self, call: PrefillCall, layer: "PrunableLayer", important: torch.Tensor) -> None:
        config = self.config
        if not config.quantizes:
            if config.drop_unimportant:
                layer.keep(important)
            return
        if call.mask.padding is not None and not bool(call.mask.padding.all()):
            raise ConfigError("ZipVL's mixed-precision KV cache takes unpadded prompts (one prompt, or prompts of "
                              "equal length); use ZipVLConfig(drop_unimportant=True, important_bits=16) for a padded "
                              "batch.")
        from mmcache.kernels import quantize_kv

        from ..kv.layer_cache import QuantizedPart

        groups = [(important, config.important_bits)]
        if not config.drop_unimportant and important.shape[-1] < call.length:
            groups.append((complement(important, call.length), config.other_bits))
        dense_keys, dense_values, dense_positions, quantized = [], [], [], []
        for index, bits in groups:
            keys, values = gather_tokens(layer.keys, index), gather_tokens(layer.values, index)
            if bits == FULL_PRECISION:
                dense_keys.append(keys), dense_values.append(values), dense_positions.append(index)
            else:
                segment = quantize_kv(keys, values, bits=bits, group_size=config.group_size)
                quantized.append(QuantizedPart(segment, index))
        empty = layer.keys[:, :, :0]
        layer.replace(torch.cat(dense_keys, dim=2) if dense_keys else empty,
                      torch.cat(dense_values, dim=2) if dense_values else layer.values[:, :, :0],
                      torch.cat(dense_positions, dim=-1) if dense_positions else important[..., :0], quantized)
