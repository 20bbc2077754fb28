"""Shared helpers of the KV-method tests on tiny random vision-language models."""

from __future__ import annotations

from typing import Any

import torch

from mmcache.kv.policy import KVPolicy
from mmcache.kv.scoring import select_tokens

NEW_TOKENS = 6


def generate(model: torch.nn.Module, inputs: dict[str, Any], new_tokens: int = NEW_TOKENS) -> Any:
    """Greedy generation with the per-step logits."""
    with torch.no_grad():
        return model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False, output_logits=True,
                              return_dict_in_generate=True)


def step_logits(result: Any) -> torch.Tensor:
    return torch.stack(result.logits, dim=1)


def same_prompt_twice(inputs: dict[str, Any], row: int = 1) -> dict[str, Any]:
    """A batch of two copies of one row of a (padded) batch built by ``tiny_vlm_inputs(..., pad=...)``."""
    picked = dict(inputs)
    for key in ("input_ids", "attention_mask", "mm_token_type_ids"):
        if key in picked:
            picked[key] = picked[key][[row, row]]
    return picked


class KeepRealTokens(KVPolicy):
    """Drops only padding after a dense prefill: the cache shrinks, yet no query ever saw those tokens."""

    method = "keep-real-tokens"

    def prefill(self, call, layer):
        output = call.dense()
        if layer is not None:
            real = call.real()
            count = int(real.sum(dim=-1).max())
            layer.keep(select_tokens(real.float().unsqueeze(1), count, None, real))
        return output


def teacher_forced_logits(model: torch.nn.Module, inputs: dict[str, Any], sequences: torch.Tensor) -> torch.Tensor:
    """The plain model's logits for each generated position of ``sequences`` (``[B, new, V]``)."""
    new = sequences.shape[1] - inputs["input_ids"].shape[1]
    extra = {key: value for key, value in inputs.items() if key not in ("input_ids", "attention_mask", "mm_token_type_ids")}
    if "mm_token_type_ids" in inputs:
        types = inputs["mm_token_type_ids"]
        extra["mm_token_type_ids"] = torch.cat([types, types.new_zeros(types.shape[0], new)], dim=1)
    mask = torch.cat([inputs["attention_mask"], inputs["attention_mask"].new_ones(sequences.shape[0], new)], dim=1)
    with torch.no_grad():
        logits = model(input_ids=sequences, attention_mask=mask, **extra).logits
    length = inputs["input_ids"].shape[1]
    return logits[:, length - 1:length - 1 + new]
