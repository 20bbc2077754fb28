"""The lookahead bounds of scale-KV selection: exact without a budget, and reading what the methods read."""

import pytest
import torch
import torch.nn.functional as F

import mmcache
from mmcache.eval.var_kv_bounds import BOUNDS, LookaheadBound, LookaheadCache
from mmcache.kv.scale_layout import ScaleLayout
from mmcache.kv.scale_stats import ScaleKVRecorder
from mmcache.pipelines.var import build_tiny_var

PROMPTS = ["a red circle on a black background", "a blue square on a white background"]


def draw(pipe, bound=None):
    handle = bound.enable(pipe) if bound is not None else None
    try:
        indices = pipe.sample_indices(PROMPTS, num_images=2, guidance_scale=3.0,
                                      generator=torch.Generator().manual_seed(0))
        return indices, handle.stats() if handle is not None else None
    finally:
        if handle is not None:
            handle.disable()


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_var()


@pytest.mark.parametrize("method", BOUNDS)
def test_a_bound_that_reads_everything_samples_the_plain_tokens(pipe, method):
    plain, _ = draw(pipe)
    bounded, _ = draw(pipe, LookaheadBound(method, 1.0))
    assert all(torch.equal(a, b) for a, b in zip(plain, bounded))


def test_a_bound_reads_as_much_as_top_k_at_the_same_budget_and_holds_everything(pipe):
    _, bound_stats = draw(pipe, LookaheadBound("lookahead-topk", 0.1))
    handle = mmcache.enable(pipe, mmcache.ScaleTopKConfig(budget=0.1))
    try:
        pipe.sample_indices(PROMPTS, num_images=2, guidance_scale=3.0, generator=torch.Generator().manual_seed(0))
        topk_stats = handle.stats()
    finally:
        handle.disable()
    assert [r.read for r in bound_stats.records] == [r.read for r in topk_stats.records]
    assert bound_stats.ratios()["kv_bytes_held"] == 1.0 > topk_stats.ratios()["kv_bytes_held"]
    assert bound_stats.ratios()["attention_flops"] < 1.0


def earlier_and_scale(seed=0):
    generator = torch.Generator().manual_seed(seed)
    layout = ScaleLayout((1, 2, 3))
    q, k, v = (torch.randn(2, 4, 9, 8, generator=generator) for _ in range(3))
    earlier_k, earlier_v = (torch.randn(2, 4, 5, 8, generator=generator) for _ in range(2))
    return layout, q, k, v, earlier_k, earlier_v


def test_top_k_reads_each_heads_most_attended_earlier_tokens_and_its_own_scale():
    layout, q, k, v, earlier_k, earlier_v = earlier_and_scale()
    cache = LookaheadCache(0, layout, capacity=2, pooled=False, recorder=ScaleKVRecorder("bound", layout))
    cache.k, cache.v = earlier_k, earlier_v
    out = cache.attend(q, k, v, scale=2, softmax_scale=0.35)
    keys = torch.cat((earlier_k, k), dim=2)
    received = (q @ keys.transpose(-1, -2) * 0.35).softmax(-1).sum(2)[..., :5]
    top = received.topk(2, dim=-1).indices.sort(dim=-1).values[..., None]
    chosen_k = torch.cat((earlier_k.gather(2, top.expand(-1, -1, -1, 8)), k), dim=2)
    chosen_v = torch.cat((earlier_v.gather(2, top.expand(-1, -1, -1, 8)), v), dim=2)
    expected = F.scaled_dot_product_attention(q, chosen_k, chosen_v, scale=0.35)
    assert torch.allclose(out, expected, atol=1e-5)
    assert cache.k is None  # the last scale's keys are never read again


def test_pooled_reads_a_blocks_budget_of_pairs_however_they_fall_across_heads():
    layout, q, k, _, earlier_k, _ = earlier_and_scale(1)
    cache = LookaheadCache(0, layout, capacity=2, pooled=True, recorder=ScaleKVRecorder("bound", layout))
    chosen = cache._chosen(q, torch.cat((earlier_k, k), dim=2), 5, 0.35)
    assert chosen.shape == (2, 4, 5)
    assert chosen.sum(dim=(1, 2)).tolist() == [8, 8]
    assert chosen.sum(dim=2).unique().numel() > 1  # the heads' shares differ on these inputs


def test_ranking_the_own_scale_too_reads_only_the_budget():
    layout, q, k, v, earlier_k, earlier_v = earlier_and_scale(2)
    recorder = ScaleKVRecorder("bound", layout)
    cache = LookaheadCache(0, layout, capacity=3, pooled=False, recorder=recorder, own_scale_ranked=True)
    cache.k, cache.v = earlier_k, earlier_v
    out = cache.attend(q, k, v, scale=2, softmax_scale=0.35)
    keys, values = torch.cat((earlier_k, k), dim=2), torch.cat((earlier_v, v), dim=2)
    top = (q @ keys.transpose(-1, -2) * 0.35).softmax(-1).sum(2).topk(3, dim=-1).indices[..., None].expand(-1, -1, -1, 8)
    expected = F.scaled_dot_product_attention(q, keys.gather(2, top), values.gather(2, top), scale=0.35)
    assert torch.allclose(out, expected, atol=1e-5) and recorder.current().records[0].read == 3 * 4


def test_an_unknown_bound_is_refused_by_name():
    with pytest.raises(ValueError, match="lookahead-topk-all"):
        LookaheadBound("oracle", 0.3)
