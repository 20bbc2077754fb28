"""FlowCache on diffusers' SkyReelsV2DiffusionForcingPipeline (tiny random instances, CPU)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from diffusers.hooks import HookRegistry

import mmcache
from mmcache import ConfigError
from mmcache.pipelines.tiny import build_tiny_pipeline, generate_tiny

BIDIRECTIONAL, CAUSAL = "skyreels-v2-df", "skyreels-v2-df-causal"
LONG = {"height": 32, "width": 32, "num_frames": 37}  # 10 latent frames: 4 windows, 4 tokens per frame


@pytest.fixture(scope="module")
def pipes():
    return {name: build_tiny_pipeline(name) for name in (BIDIRECTIONAL, CAUSAL)}


def run(pipe, name, config=None, steps=8, **overrides):
    if config is None:
        return generate_tiny(pipe, name, steps=steps, **overrides), None
    with mmcache.enabled(pipe, config) as handle:
        frames = generate_tiny(pipe, name, steps=steps, **overrides)
    return frames, handle.history[-1]


def test_never_reusing_on_a_bidirectional_model_is_bit_identical(pipes):
    plain, _ = run(pipes[BIDIRECTIONAL], BIDIRECTIONAL)
    frames, stats = run(pipes[BIDIRECTIONAL], BIDIRECTIONAL, mmcache.FlowCacheConfig(threshold=0))
    assert torch.equal(frames, plain)
    assert stats.compute_saved == 0 and "reused" not in stats.chunk_counts


def test_restructuring_a_block_causal_model_is_exact_and_saves_the_finished_chunks(pipes):
    plain, _ = run(pipes[CAUSAL], CAUSAL, **LONG)
    frames, stats = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0), **LONG)
    torch.testing.assert_close(frames, plain, atol=1e-5, rtol=0)
    counts = stats.chunk_counts
    assert counts["cached"] > 0 and counts["skipped"] > 0 and counts["encoded"] > 0 and "reused" not in counts
    assert stats.compute_saved > 0.2
    assert stats.peak_kv_bytes > 0


def test_restructuring_off_forwards_the_whole_window(pipes):
    plain, _ = run(pipes[CAUSAL], CAUSAL)
    frames, stats = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0, restructure=False))
    assert torch.equal(frames, plain)
    assert stats.compute_saved == 0 and set(stats.chunk_counts) == {"computed", "context"}


@pytest.mark.parametrize("name", [BIDIRECTIONAL, CAUSAL])
def test_reused_chunks_run_through_no_block(pipes, name):
    pipe = pipes[name]
    seen: list[int] = []
    handle = pipe.transformer.blocks[1].ffn.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    try:
        _, stats = run(pipe, name, mmcache.FlowCacheConfig(threshold=0.3, warmup_steps=2), **LONG)
    finally:
        handle.remove()
    counts = stats.chunk_counts
    assert counts["reused"] > 0
    tokens_per_chunk = 2 * 4 if name == CAUSAL else 4  # blocks of 2 frames (causal) or 1 frame, 4 tokens each
    run_through = counts["computed"] + counts.get("encoded", 0) + counts.get("context", 0)
    assert sum(seen) == run_through * tokens_per_chunk
    assert stats.compute_saved > (0.3 if name == CAUSAL else 0.1)


def test_reuse_stays_close_to_the_plain_output(pipes):
    plain, _ = run(pipes[CAUSAL], CAUSAL, **LONG)
    frames, stats = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0.3, warmup_steps=2), **LONG)
    assert 0 < (frames - plain).abs().max() < 0.05
    assert len(stats.chunk_timeline) == sum(stats.chunk_counts.values())


def test_kv_budget_bounds_the_cache_however_long_the_video(pipes):
    peaks = []
    for frames in (37, 69):
        _, stats = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0, kv_budget=4),
                       **{**LONG, "num_frames": frames})
        peaks.append(stats.peak_kv_bytes)
    _, unbounded = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0), **{**LONG, "num_frames": 69})
    assert peaks[0] == peaks[1] < unbounded.peak_kv_bytes


def test_compression_changes_the_output_only_a_little(pipes):
    plain, _ = run(pipes[CAUSAL], CAUSAL, **LONG)
    frames, _ = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0, kv_budget=4), **LONG)
    assert 0 < (frames - plain).abs().max() < 0.1


def test_what_a_bidirectional_model_cannot_do_is_refused(pipes):
    for config, match in ((mmcache.FlowCacheConfig(restructure=True), "block-causal model"),
                          (mmcache.FlowCacheConfig(kv_budget=8), "bidirectional"),
                          (mmcache.FlowCacheConfig(fresh_kv=True), "fresh_kv=False")):
        with pytest.raises(ConfigError, match=match):
            run(pipes[BIDIRECTIONAL], BIDIRECTIONAL, config)


def test_other_pipelines_and_bare_denoisers_are_refused(pipes):
    with pytest.raises(ConfigError, match="diffusion-forcing pipelines"):
        mmcache.enable(build_tiny_pipeline("wan2.1-t2v"), mmcache.FlowCacheConfig())
    with pytest.raises(ConfigError, match="bare denoiser"):
        mmcache.enable(pipes[CAUSAL].transformer, mmcache.FlowCacheConfig())


def test_disable_removes_every_hook(pipes):
    pipe = pipes[CAUSAL]
    plain, _ = run(pipe, CAUSAL)
    run(pipe, CAUSAL, mmcache.FlowCacheConfig(threshold=0.3, kv_budget=2))
    assert "generate_timestep_matrix" not in vars(pipe)
    assert not pipe.transformer.rope._forward_hooks
    for block in pipe.transformer.blocks:
        registry = HookRegistry.check_if_exists_or_initialize(block)
        assert not registry.hooks and type(block.attn1.processor).__name__ == "SkyReelsV2AttnProcessor"
        assert type(block.attn2.to_k) is torch.nn.Linear and type(block.attn2.to_v) is torch.nn.Linear
    assert type(pipe.transformer.condition_embedder.text_embedder).__name__ == "PixArtAlphaTextProjection"
    assert torch.equal(run(pipe, CAUSAL)[0], plain)


def test_config_validation_and_json():
    config = mmcache.FlowCacheConfig(threshold=0.15, kv_budget=128, rescale=[1.0, 0.0])
    assert mmcache.MethodConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert mmcache.FlowCacheConfig.preset("skyreels-v2-df").threshold == 0.1
    for bad in ({"threshold": -1}, {"threshold": float("nan")}, {"kv_budget": 0}, {"pool_kernel": 4},
                {"metric": "output"}, {"importance_weight": 2}, {"rescale": []}, {"warmup_steps": 1.5},
                {"fresh_kv": 1}, {"text_kv": 1}, {"restructure": 0}):
        with pytest.raises(ConfigError, match="FlowCacheConfig"):
            mmcache.FlowCacheConfig(**bad)
    with pytest.raises(ConfigError, match="kv_budget"):
        config.kv_budget = -3
    assert config.kv_budget == 128


@pytest.mark.parametrize("name", [BIDIRECTIONAL, CAUSAL])
def test_step_methods_decide_per_window_iteration(pipes, name):
    plain, _ = run(pipes[name], name)
    frames, stats = run(pipes[name], name, mmcache.EasyCacheConfig(threshold=0))
    assert torch.equal(frames, plain)
    assert {record.window for record in stats.timeline} == {0, 1}
    assert min(record.step for record in stats.timeline if record.window == 1) == 0
    _, reusing = run(pipes[name], name, mmcache.EasyCacheConfig(threshold=0.2, warmup_steps=2))
    assert reusing.skipped > 0 and reusing.compute_saved == pytest.approx(reusing.skip_ratio, abs=0.05)


def test_a_causal_block_size_given_to_the_pipeline_makes_the_model_block_causal():
    pipe = build_tiny_pipeline(BIDIRECTIONAL)  # its own instance: diffusers keeps the block size in the config
    plain, _ = run(pipe, BIDIRECTIONAL, causal_block_size=2, **LONG)
    frames, stats = run(pipe, BIDIRECTIONAL, mmcache.FlowCacheConfig(threshold=0), causal_block_size=2, **LONG)
    torch.testing.assert_close(frames, plain, atol=1e-5, rtol=0)
    assert stats.chunk_counts["cached"] > 0


def test_synchronous_schedule_and_short_videos(pipes):
    for overrides in ({"ar_step": 0}, {"num_frames": 13}):  # synchronous; one window (no long-video mode)
        plain, _ = run(pipes[CAUSAL], CAUSAL, **overrides)
        frames, stats = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0), **overrides)
        torch.testing.assert_close(frames, plain, atol=1e-5, rtol=0)
        assert stats.compute_saved >= 0


@pytest.mark.parametrize("options", [{"reuse": "output"}, {"metric": "rate"}, {"metric": "rate", "reuse": "output"}])
def test_reuse_targets_and_metrics_reuse_and_stay_close(pipes, options):
    plain, _ = run(pipes[CAUSAL], CAUSAL, **LONG)
    never, _ = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0, **options), **LONG)
    torch.testing.assert_close(never, plain, atol=1e-5, rtol=0)
    frames, stats = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0.3, warmup_steps=2, **options), **LONG)
    assert stats.chunk_counts["reused"] > 0
    assert 0 < (frames - plain).abs().max() < 0.1  # frames in [0, 1]


def test_a_whole_window_decision_composes_with_restructuring(pipes):
    plain, _ = run(pipes[CAUSAL], CAUSAL, **LONG)
    never, restructured = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0, window_threshold=0), **LONG)
    torch.testing.assert_close(never, plain, atol=1e-5, rtol=0)
    config = mmcache.FlowCacheConfig(threshold=0, window_threshold=0.2, warmup_steps=2)
    frames, stats = run(pipes[CAUSAL], CAUSAL, config, **LONG)
    assert stats.skipped > 0 and stats.chunk_counts["reused"] > 0 and stats.chunk_counts["cached"] > 0
    skipped_iterations = {(r.window, r.step, r.branch) for r in stats.timeline if not r.computed}
    assert all(c.state in ("reused", "cached", "skipped") for c in stats.chunk_timeline
               if (c.window, c.iteration, c.branch) in skipped_iterations)  # a reused iteration runs nothing
    assert stats.compute_saved > restructured.compute_saved
    assert 0 < (frames - plain).abs().max() < 0.1


def test_fresh_kv_never_lets_a_computed_chunk_read_a_reused_one(pipes):
    plain, _ = run(pipes[CAUSAL], CAUSAL, **LONG)
    never, _ = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0, fresh_kv=True), **LONG)
    torch.testing.assert_close(never, plain, atol=1e-5, rtol=0)
    config = mmcache.FlowCacheConfig(threshold=0.3, warmup_steps=2)
    stale_frames, stale = run(pipes[CAUSAL], CAUSAL, config, **LONG)
    frames, stats = run(pipes[CAUSAL], CAUSAL, dataclasses.replace(config, fresh_kv=True), **LONG)

    def reads_a_reused_chunk(timeline) -> bool:
        forwards: dict[tuple, dict[int, str]] = {}
        for record in timeline:
            forwards.setdefault((record.window, record.iteration, record.branch), {})[record.chunk] = record.state
        return any(state == "computed" and any(states.get(earlier) == "reused" for earlier in range(chunk))
                   for states in forwards.values() for chunk, state in states.items())

    assert reads_a_reused_chunk(stale.chunk_timeline)  # the paper's rule: later chunks read stale K/V
    assert not reads_a_reused_chunk(stats.chunk_timeline)
    assert 0 < stats.chunk_counts["reused"] < stale.chunk_counts["reused"]
    assert 0 < (frames - plain).abs().max() < 0.1


def text_projection_calls(pipe) -> list[int]:
    """Appends one entry per run of any block's cross-attention key projection (installed on the module)."""
    calls: list[int] = []
    for block in pipe.transformer.blocks:
        block.attn2.to_k.register_forward_pre_hook(lambda module, args: calls.append(1))
    return calls


def test_text_kv_projects_the_prompt_once_per_branch_and_changes_nothing(pipes):
    from mmcache.pipelines.compute import count_linear_macs

    pipe = build_tiny_pipeline(CAUSAL)
    plain, _ = run(pipe, CAUSAL, **LONG)
    calls = text_projection_calls(pipe)
    with count_linear_macs([pipe.transformer]) as without_counter:
        without, without_stats = run(pipe, CAUSAL, mmcache.FlowCacheConfig(threshold=0, text_kv=False), **LONG)
    plain_calls = len(calls)
    calls.clear()
    with count_linear_macs([pipe.transformer]) as kept_counter:
        kept, stats = run(pipe, CAUSAL, mmcache.FlowCacheConfig(threshold=0), **LONG)
    assert torch.equal(kept, without)
    torch.testing.assert_close(kept, plain, atol=1e-5, rtol=0)
    assert len(calls) == 2 * len(pipe.transformer.blocks) < plain_calls  # once per CFG branch and block
    assert kept_counter.macs < without_counter.macs
    assert stats.text_kv_bytes > 0 and without_stats.text_kv_bytes is None
    assert stats.compute_saved == without_stats.compute_saved  # latent positions: the same chunks ran


def test_text_kv_on_a_bidirectional_model_is_bit_identical_and_follows_the_prompt(pipes):
    pipe = pipes[BIDIRECTIONAL]
    plain, _ = run(pipe, BIDIRECTIONAL)
    other, _ = run(pipe, BIDIRECTIONAL, prompt="a blue square moving up")
    with mmcache.enabled(pipe, mmcache.FlowCacheConfig(threshold=0)) as handle:
        first = generate_tiny(pipe, BIDIRECTIONAL, steps=8)
        second = generate_tiny(pipe, BIDIRECTIONAL, steps=8, prompt="a blue square moving up")
    assert torch.equal(first, plain) and torch.equal(second, other)
    assert handle.history[-1].text_kv_bytes > 0


def test_text_kv_asked_for_where_the_family_names_no_projections_is_refused(pipes, monkeypatch):
    import mmcache.methods.flowcache as flowcache

    monkeypatch.setattr(flowcache, "matching_modules", lambda denoiser, patterns: [])
    with pytest.raises(ConfigError, match="text_kv"):
        mmcache.enable(pipes[CAUSAL], mmcache.FlowCacheConfig(text_kv=True))
    frames, stats = run(pipes[CAUSAL], CAUSAL, mmcache.FlowCacheConfig(threshold=0))  # None: off where unnamed
    assert stats.text_kv_bytes is None
