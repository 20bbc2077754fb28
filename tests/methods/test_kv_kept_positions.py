"""``KVCacheHandle.kept_prompt_positions``: which prompt positions each layer kept after the prefill."""

from __future__ import annotations

import pytest
import torch

import mmcache
from mmcache.kv.kept_positions import KeptPositions, kept_share
from mmcache.kv.layer_cache import LiveLayers, PrunableLayer

from .vlm_helpers import generate


def prefill(model, inputs, config):
    """One prompt's prefill under ``config``: its stats and each layer's kept positions."""
    with mmcache.enabled(model, config) as handle:
        with torch.no_grad():
            model(**inputs, use_cache=True)
        return handle.stats(), handle.kept_prompt_positions()


@pytest.mark.parametrize("config", [mmcache.StreamingLLMConfig(budget=1.0),
                                    mmcache.ZipVLConfig(tau=0.8, important_bits=4, other_bits=2)],
                         ids=["streamingllm-budget-1", "zipvl-quantized"])
def test_a_method_that_keeps_every_token_keeps_every_position_in_every_layer(llava, config):
    model, inputs = llava
    stats, kept = prefill(model, inputs, config)
    length = inputs["input_ids"].shape[1]
    assert [layer.layer for layer in kept] == [layer.layer for layer in stats.layers] and len(kept) > 1
    for layer in kept:
        assert layer.prompt_tokens == length and bool(layer.mask().all())
    assert torch.equal(kept_share(kept), torch.ones(1, length))


@pytest.mark.parametrize("config", [mmcache.SnapKVConfig(budget=0.25, window=4),
                                    mmcache.StreamingLLMConfig(budget=0.25)], ids=["snapkv", "streamingllm"])
def test_a_quarter_budget_keeps_about_a_quarter_of_the_positions(llava, config):
    model, inputs = llava
    stats, kept = prefill(model, inputs, config)
    length = inputs["input_ids"].shape[1]
    for layer, counted in zip(kept, stats.layers):
        assert layer.kept_tokens == counted.prefill_kept == round(0.25 * length)
    share = kept_share(kept)
    assert share.shape == (1, length) and share.mean().item() == pytest.approx(0.25, abs=1 / length)
    assert share.mean().item() == pytest.approx(stats.prompt_kept_fraction)


def test_the_positions_are_those_after_the_prefill_even_when_decoding_evicts_more(llava):
    model, inputs = llava
    with mmcache.enabled(model, mmcache.PrefixKVConfig(budget=0.25)) as handle:
        assert handle.kept_prompt_positions() == []
        generate(model, inputs, new_tokens=8)
    stats, kept = handle.stats(), handle.kept_prompt_positions()  # the finished run, after disable
    generated = stats.layers[0].tokens_seen - stats.layers[0].prefill_tokens
    assert stats.layers[0].tokens_kept < stats.layers[0].prefill_kept + generated  # decoding evicted prompt tokens
    assert [layer.kept_tokens for layer in kept] == [layer.prefill_kept for layer in stats.layers]
    assert kept_share(kept).mean().item() == pytest.approx(stats.prompt_kept_fraction)


def test_per_head_selection_gives_one_row_per_head_and_the_share_averages_them():
    layer = PrunableLayer(0, LiveLayers())
    keys = torch.randn(1, 2, 6, 4)
    layer.update(keys, keys.clone())
    layer.keep(torch.tensor([[[0, 1, 2], [0, 4, 5]]]))
    kept = KeptPositions.of(0, 6, 1, layer)
    assert kept.mask().tolist() == [[[True, True, True, False, False, False], [True, False, False, False, True, True]]]
    everything = KeptPositions.of(1, 6, 1, None)
    assert kept_share([kept, everything]).tolist() == [[1.0, 0.75, 0.75, 0.5, 0.75, 0.75]]
    with pytest.raises(ValueError, match="different lengths"):
        kept_share([kept, KeptPositions.of(1, 7, 1, None)])
