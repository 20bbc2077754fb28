"""PrefixKV (arXiv 2412.03409): layer-adaptive KV budgets from one global cumulative-priority threshold.

Per layer, a key's importance is the attention it receives, averaged over heads and summed over the
prompt's queries. Sorted and normalized, the cumulative sum is the layer's priority curve ``P_l(k)``.
One threshold ``p`` shared by all layers gives each layer the fewest tokens with ``P_l(k) ≥ p``; it
is binary-searched offline (``mmcache.calibrate(model, method="prefixkv", ...)``) until the total
kept meets the budget, and the per-layer eviction fractions are stored in a calibration file.

At inference, after the prompt's (dense) prefill each layer evicts its fraction of the prompt, the
lowest-scoring tokens, always keeping the first ``sinks`` tokens and the last one; while decoding,
whenever a layer holds more than its share of all tokens seen, it evicts one token by position, at a
fixed slot ``distance`` tokens before the end of what the prefill kept (the official rule). Without a
calibration file the threshold is searched on each prompt itself, after its prefill.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from ..calibration.prefixkv_file import PROTECTED_LAST, SINKS, PrefixKVCalibration
from ..kv.budgets import global_threshold_evictions
from ..kv.policy import KVPolicy, PrefillCall
from ..kv.scoring import attention_received, first_real_tokens, last_real_tokens, select_tokens
from .base import MethodConfig, is_number, require

if TYPE_CHECKING:
    from ..kv.layer_cache import PrunableLayer

DECODE_DISTANCE = 25


@dataclasses.dataclass
class PrefixKVConfig(MethodConfig):
    """PrefixKV for vision-language models (see the module docstring).

    Args:
        budget: fraction of the KV cache kept, over all layers (1.0 keeps everything).
        calibration: path of a PrefixKV calibration file made for this model and budget
            (``mmcache calibrate --method prefixkv``); ``None`` searches the threshold on each prompt.
        decode_eviction: while decoding, each layer evicts by position to keep its fraction.
    """

    method: ClassVar[str] = "prefixkv"
    role: ClassVar[str] = "kv"

    budget: float = 0.5
    calibration: str | None = None
    decode_eviction: bool = True

    def coerce(self, name: str, value: Any) -> Any:
        return str(value) if name == "calibration" and isinstance(value, Path) else value

    def validate(self) -> None:
        require(is_number(self.budget) and 0 < self.budget <= 1 and math.isfinite(self.budget),
                f"PrefixKVConfig.budget must be the fraction of the KV cache kept, in (0, 1], got {self.budget!r}.")
        require(self.calibration is None or (isinstance(self.calibration, str) and self.calibration.strip()),
                f"PrefixKVConfig.calibration must be None or the path of a calibration file, got {self.calibration!r}.")
        require(isinstance(self.decode_eviction, bool),
                f"PrefixKVConfig.decode_eviction must be True or False, got {self.decode_eviction!r}.")

    def kv_policy(self, target: Any) -> "PrefixKVPolicy":
        fractions = None
        if self.calibration is not None and self.budget < 1:
            calibration = PrefixKVCalibration.load(self.calibration)
            calibration.check(target, self.budget)
            fractions = calibration.evict_fractions
        return PrefixKVPolicy(self, len(target.attention_modules), fractions)


def layer_importance(call: PrefillCall) -> torch.Tensor:
    """``[B, T]``: attention each key receives, averaged over heads, summed over every prompt query."""
    received = attention_received(call.query, call.key, call.allowed_rows, call.scale)
    call.scoring_pairs += call.heads * call.causal_pairs()
    return received.mean(dim=1)


def decode_slot(kept: int) -> int:
    """Where a layer evicts while decoding: ``DECODE_DISTANCE`` tokens before the end of its prefill cache."""
    slot = kept - DECODE_DISTANCE
    return slot if slot >= 1 else max(1, kept // 2)


class PrefixKVPolicy(KVPolicy):
    method = "prefixkv"

    def __init__(self, config: PrefixKVConfig, num_layers: int, fractions: list[float] | None) -> None:
        self.config = config
        self.num_layers = num_layers
        self.fractions = fractions
        self._pending: dict[int, tuple["PrunableLayer", torch.Tensor, torch.Tensor]] = {}

    def start_run(self) -> None:
        self._pending = {}

    def prefill(self, call: PrefillCall, layer: "PrunableLayer | None") -> torch.Tensor:
        output = call.dense()
        if layer is None or self.config.budget >= 1:
            return output
        if self.fractions is not None:
            if self.fractions[call.layer] > 0:
                self._evict(layer, layer_importance(call), call.real(), self.fractions[call.layer])
            return output
        self._pending[call.layer] = (layer, layer_importance(call), call.real())
        if call.layer == self.num_layers - 1:
            self._evict_at_prompt_threshold()
        return output

    def _evict_at_prompt_threshold(self) -> None:
        """Without a calibration: one threshold for this prompt's layers (batch rows scored together)."""
        layers = sorted(self._pending)
        scores = torch.stack([self._pending[index][1].sum(dim=0) for index in layers])
        protected = SINKS + PROTECTED_LAST
        evicted = global_threshold_evictions(scores, 1 - self.config.budget, protected)
        for index, count in zip(layers, evicted.tolist()):
            layer, importance, real = self._pending[index]
            if count > 0:
                self._evict(layer, importance, real, count / scores.shape[-1])
        self._pending = {}

    def _evict(self, layer: "PrunableLayer", importance: torch.Tensor, real: torch.Tensor, fraction: float) -> None:
        length = importance.shape[-1]
        evict = int(round(fraction * int(real.sum(dim=-1).max())))
        count = max(SINKS + PROTECTED_LAST, length - evict)
        if count >= length:
            return
        forced = first_real_tokens(real, SINKS) | last_real_tokens(real, PROTECTED_LAST)
        layer.keep(select_tokens(importance.unsqueeze(1), count, forced, real))
        if self.config.decode_eviction:
            layer.state["prefixkv"] = (1.0 - fraction, decode_slot(count))

    def after_decode(self, layer: "PrunableLayer") -> None:
        rule = layer.state.get("prefixkv")
        if rule is None:
            return
        share, slot = rule
        if int(layer.kept_tokens - layer.seen * share) > 0 and slot < layer.kept_tokens - 1:
            device = layer.keys.device  # built there: no host-to-device copy on every decode step
            keep = torch.cat([torch.arange(slot, device=device), torch.arange(slot + 1, layer.kept_tokens, device=device)])
            layer.keep(keep.view(1, 1, -1).expand(layer.keys.shape[0], 1, -1))
