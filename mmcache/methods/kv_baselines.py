"""KV-cache baselines for vision-language models, at a budget, in mmcache's KV layer: StreamingLLM, SnapKV, PyramidKV.

Each compresses every layer's cache once, after the prompt's (dense) prefill, to a budget given as
the fraction of the prompt's tokens kept; generated tokens are then appended. They run in the same
cache layers, attention and accounting as ZipVL and PrefixKV, so a comparison differs only in which
tokens stay.

* StreamingLLM (Xiao et al. 2023): the first ``sinks`` tokens (attention sinks) and the most recent ones.
* SnapKV (Li et al. 2024): the last ``window`` tokens (the observation window) stay; each key/value
  head keeps the other tokens its window queries attend to most (attention summed over the window,
  averaged over the head's query group, average-pooled along the tokens with ``kernel``).
* PyramidKV (Cai et al. 2024): SnapKV's selection with budgets falling linearly over the layers
  (``kv.budgets.pyramid_budgets``, ``beta`` = 20), averaging the same budget.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from ..kv.budgets import pyramid_budgets
from ..kv.policy import KVPolicy, PrefillCall
from ..kv.scoring import (attention_weights, first_real_tokens, group_heads, last_real_tokens, pool_tokens,
                          select_tokens)
from .base import MethodConfig, is_number, require

if TYPE_CHECKING:
    from ..kv.layer_cache import PrunableLayer


def _whole(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def kept_count(budget: float, length: int) -> int:
    """Tokens of a ``length``-token prompt kept at ``budget`` (at least one)."""
    return max(1, min(length, int(round(budget * length))))


@dataclasses.dataclass
class _BudgetConfig(MethodConfig):
    role: ClassVar[str] = "kv"

    budget: float = 0.5

    def validate(self) -> None:
        name = type(self).__name__
        require(is_number(self.budget) and 0 < self.budget <= 1,
                f"{name}.budget must be the fraction of the prompt's KV cache kept, in (0, 1], got {self.budget!r}.")


@dataclasses.dataclass
class StreamingLLMConfig(_BudgetConfig):
    """StreamingLLM at a budget: attention sinks plus the most recent tokens.

    Args:
        budget: fraction of the prompt's tokens each layer keeps (1.0 keeps everything).
        sinks: the first tokens always kept (attention sinks).
    """

    method: ClassVar[str] = "streamingllm"

    sinks: int = 4

    def validate(self) -> None:
        super().validate()
        require(_whole(self.sinks, 0), f"StreamingLLMConfig.sinks must be an integer >= 0, got {self.sinks!r}.")

    def kv_policy(self, target: Any) -> KVPolicy:
        return StreamingPolicy(self)


@dataclasses.dataclass
class SnapKVConfig(_BudgetConfig):
    """SnapKV at a budget: the observation window plus, per head, the tokens it attends to most.

    Args:
        budget: fraction of the prompt's tokens each layer keeps (1.0 keeps everything).
        window: the last prompt tokens, whose queries score the others and which always stay.
        kernel: odd width of the average pooling of the scores along the tokens.
    """

    method: ClassVar[str] = "snapkv"

    window: int = 32
    kernel: int = 7

    def validate(self) -> None:
        super().validate()
        name = type(self).__name__
        require(_whole(self.window, 1), f"{name}.window must be an integer >= 1, got {self.window!r}.")
        require(_whole(self.kernel, 1) and self.kernel % 2 == 1,
                f"{name}.kernel must be an odd integer >= 1, got {self.kernel!r}.")

    def kv_policy(self, target: Any) -> KVPolicy:
        return WindowScoredPolicy(self, None)


@dataclasses.dataclass
class PyramidKVConfig(SnapKVConfig):
    """PyramidKV at a budget: SnapKV's selection, with more tokens in early layers and fewer in late ones.

    Args:
        budget: mean fraction of the prompt's tokens a layer keeps (1.0 keeps everything).
        window: the last prompt tokens, whose queries score the others and which always stay.
        kernel: odd width of the average pooling of the scores along the tokens.
        beta: the last layer keeps ``1/beta`` of the mean selectable budget (PyramidKV: 20).
    """

    method: ClassVar[str] = "pyramidkv"

    beta: float = 20.0

    def validate(self) -> None:
        super().validate()
        require(is_number(self.beta) and math.isfinite(self.beta) and self.beta >= 1,
                f"PyramidKVConfig.beta must be a number >= 1, got {self.beta!r}.")

    def kv_policy(self, target: Any) -> KVPolicy:
        return WindowScoredPolicy(self, len(target.attention_modules))


class StreamingPolicy(KVPolicy):
    method = "streamingllm"

    def __init__(self, config: StreamingLLMConfig) -> None:
        self.config = config

    def prefill(self, call: PrefillCall, layer: "PrunableLayer | None") -> torch.Tensor:
        output = call.dense()
        count = kept_count(self.config.budget, call.length)
        if layer is None or count >= call.length:
            return output
        real = call.real()
        recency = torch.arange(call.length, device=real.device, dtype=torch.float32).expand(real.shape[0], 1, -1)
        layer.keep(select_tokens(recency, count, first_real_tokens(real, self.config.sinks), real))
        return output


class WindowScoredPolicy(KVPolicy):
    """SnapKV, and PyramidKV when built with the number of layers."""

    def __init__(self, config: SnapKVConfig, num_layers: int | None) -> None:
        self.config = config
        self.num_layers = num_layers
        self.method = config.method

    def budget_of(self, layer: int, length: int) -> int:
        if self.num_layers is None or self.config.budget >= 1:
            return kept_count(self.config.budget, length)
        window = min(self.config.window, length)
        budgets = pyramid_budgets(self.config.budget * length, self.num_layers, window, float(self.config.beta))
        return max(1, min(length, budgets[layer]))

    def prefill(self, call: PrefillCall, layer: "PrunableLayer | None") -> torch.Tensor:
        output = call.dense()
        count = self.budget_of(call.layer, call.length)
        if layer is None or count >= call.length:
            return output
        real = call.real()
        window = min(self.config.window, call.length)
        if count <= window:  # the budget holds only recent tokens
            recency = torch.arange(call.length, device=real.device, dtype=torch.float32).expand(real.shape[0], 1, -1)
            layer.keep(select_tokens(recency, count, None, real))
            return output
        rows = torch.arange(call.length - window, call.length, device=call.query.device)
        weights = attention_weights(call.query[:, :, rows], call.key, call.allowed_for(rows), call.scale)
        call.scoring_pairs += call.heads * call.causal_pairs(rows)
        scores = pool_tokens(group_heads(weights.sum(dim=2), call.kv_heads), self.config.kernel, "avg")
        layer.keep(select_tokens(scores, count, last_real_tokens(real, window), real))
        return output
