"""FlowCache on diffusers' AnyFlowFARPipeline (a tiny random instance: 5 chunks, flex attention on CPU)."""

from __future__ import annotations

import pytest
import torch

import mmcache
from mmcache.pipelines.tiny import build_tiny_pipeline, generate_tiny

NAME, STEPS, CHUNKS = "anyflow-far", 3, 5


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_pipeline(NAME)


@pytest.fixture(scope="module")
def plain(pipe):
    return generate_tiny(pipe, NAME, steps=STEPS)


def run(pipe, config):
    with mmcache.enabled(pipe, config) as handle:
        frames = generate_tiny(pipe, NAME, steps=STEPS)
    return frames, handle.history[-1]


def test_never_reusing_is_bit_identical_and_counts_one_window_per_chunk(pipe, plain):
    frames, stats = run(pipe, mmcache.FlowCacheConfig(threshold=0))
    assert torch.equal(frames, plain)
    assert stats.calls == CHUNKS * STEPS  # the cache-filling forwards between chunks are not steps
    assert len({record.window for record in stats.timeline}) == CHUNKS
    assert stats.compute_saved == 0 and stats.chunk_counts == {"computed": CHUNKS * STEPS}
    assert stats.text_kv_bytes > 0  # the prompt's projections were kept, and the frames are the same bits


def test_the_prompt_is_projected_once_per_branch(pipe, plain):
    runs: list[int] = []
    hooks = [block.attn2.to_k.register_forward_pre_hook(lambda module, args: runs.append(1))
             for block in pipe.transformer.blocks]
    try:
        frames, _ = run(pipe, mmcache.FlowCacheConfig(threshold=0))
        kept = len(runs)
        runs.clear()
        run(pipe, mmcache.FlowCacheConfig(threshold=0, text_kv=False))
    finally:
        for hook in hooks:
            hook.remove()
    assert torch.equal(frames, plain)
    assert kept == len(pipe.transformer.blocks) < len(runs)  # cond and uncond batched: one input per block


def test_a_reused_chunk_step_runs_through_no_block(pipe, plain):
    seen: list[int] = []
    hook = pipe.transformer.blocks[0].ffn.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    try:
        frames, stats = run(pipe, mmcache.FlowCacheConfig(threshold=1.0, warmup_steps=1, final_steps=1,
                                                          metric="input"))
    finally:
        hook.remove()
    counts = stats.chunk_counts
    assert counts["reused"] > 0 and counts["computed"] + counts["reused"] == CHUNKS * STEPS
    cache_fills = CHUNKS - 1
    assert len(seen) == counts["computed"] + cache_fills
    assert stats.compute_saved == pytest.approx(counts["reused"] / (CHUNKS * STEPS))
    assert 0 < (frames - plain).abs().max() < 0.1


def test_the_selection_policy_reads_at_most_the_budget_of_cached_tokens(pipe, plain):
    frames, stats = run(pipe, mmcache.FlowCacheConfig(threshold=0, kv_budget=16))
    assert 0 < stats.kv_read_fraction < 1
    assert 0 < (frames - plain).abs().max() < 0.1
    frames, stats = run(pipe, mmcache.FlowCacheConfig(threshold=0, kv_budget=10_000))
    assert torch.equal(frames, plain) and stats.kv_read_fraction == 1


def test_each_pipeline_call_is_its_own_run(pipe):
    with mmcache.enabled(pipe, mmcache.FlowCacheConfig(threshold=0)) as handle:
        generate_tiny(pipe, NAME, steps=2)
        generate_tiny(pipe, NAME, steps=2)
    assert [stats.calls for stats in handle.history] == [CHUNKS * 2, CHUNKS * 2]
    assert type(pipe).__mro__[1].__name__ != type(pipe).__name__  # the call boundary is gone again


def test_step_methods_decide_per_chunk_loop(pipe, plain):
    frames, stats = run(pipe, mmcache.EasyCacheConfig(threshold=0, warmup_steps=1))
    assert torch.equal(frames, plain)
    assert {record.window for record in stats.timeline} == set(range(CHUNKS))
    with mmcache.enabled(pipe, mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=1)) as handle:
        frames = generate_tiny(pipe, NAME, steps=5)  # the rate k is known from the third step on
    assert handle.history[-1].skipped > 0 and torch.isfinite(frames).all()
