"""StreamingLLM, SnapKV and PyramidKV at a budget, in the same KV layer as ZipVL and PrefixKV."""

from __future__ import annotations

import pytest
import torch

import mmcache
from mmcache.kv.budgets import pyramid_budgets


def prefill_cache(model, inputs, config):
    with mmcache.enabled(model, config) as handle:
        with torch.no_grad():
            cache = model(**inputs, use_cache=True).cache
    return cache, handle.history[-1]


def test_streaming_keeps_the_sinks_and_the_most_recent_tokens(llava):
    model, inputs = llava
    length = inputs["input_ids"].shape[1]
    cache, stats = prefill_cache(model, inputs, mmcache.StreamingLLMConfig(budget=0.25, sinks=4))
    kept = round(0.25 * length)
    for layer in cache.layers:
        assert layer.token_positions()[0, 0].tolist() == [0, 1, 2, 3] + list(range(length - kept + 4, length))
    assert stats.prefill_attention_flops == stats.prefill_attention_flops_dense  # no scoring pass


def test_snapkv_keeps_the_window_and_the_best_scored_tokens(llava):
    model, inputs = llava
    length = inputs["input_ids"].shape[1]
    cache, stats = prefill_cache(model, inputs, mmcache.SnapKVConfig(budget=0.3, window=8))
    for layer in cache.layers:
        positions = layer.token_positions()[0, 0].tolist()
        assert len(positions) == round(0.3 * length) and positions[-8:] == list(range(length - 8, length))
    assert 0 < sum(layer.scoring_flops for layer in stats.layers) < stats.prefill_attention_flops_dense


def test_pyramid_budgets_fall_over_the_layers_and_average_the_budget():
    budgets = pyramid_budgets(50.0, 4, window=8)
    assert budgets == sorted(budgets, reverse=True) and abs(sum(budgets) / 4 - 50) <= 1
    assert budgets[-1] == 8 + round(42 / 20)


def test_methods_at_the_same_budget_keep_the_same_share(llava):
    model, inputs = llava
    shares = {}
    for config in (mmcache.StreamingLLMConfig(budget=0.4), mmcache.SnapKVConfig(budget=0.4, window=8),
                   mmcache.PyramidKVConfig(budget=0.4, window=8), mmcache.PrefixKVConfig(budget=0.4)):
        _, stats = prefill_cache(model, inputs, config)
        kept = [layer.prefill_kept for layer in stats.layers]
        shares[config.method] = sum(kept) / sum(layer.prefill_tokens for layer in stats.layers)
        if config.method == "pyramidkv":
            assert kept == sorted(kept, reverse=True) and kept[0] > kept[-1]
    assert all(abs(share - 0.4) < 0.03 for share in shares.values()), shares
