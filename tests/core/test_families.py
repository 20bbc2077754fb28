"""Every supported family, through its real diffusers pipeline class on tiny random weights."""

from __future__ import annotations

import pytest
import torch

import mmcache
from mmcache.pipelines.tiny import ONE_LOOP, generate_tiny as generate, build_tiny_pipeline


FAMILIES = sorted(ONE_LOOP)  # windowed pipelines: tests/methods/test_flowcache*.py
NEVER_REUSE = mmcache.EasyCacheConfig(threshold=0.0, warmup_steps=2)
EAGER_REUSE = mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=2)


@pytest.fixture(scope="module", params=FAMILIES)
def family_pipe(request):
    pipe = build_tiny_pipeline(request.param)
    baseline = generate(pipe, request.param)
    return request.param, pipe, baseline


def test_never_reusing_is_bit_identical(family_pipe):
    family, pipe, baseline = family_pipe
    with mmcache.enabled(pipe, NEVER_REUSE) as handle:
        out = generate(pipe, family)
    assert torch.equal(out, baseline)
    stats = handle.stats()
    assert stats.skipped == 0 and stats.computed == stats.calls > 0


def test_disable_restores_bit_identical_output(family_pipe):
    family, pipe, baseline = family_pipe
    handle = mmcache.enable(pipe, EAGER_REUSE)
    cached = generate(pipe, family)
    assert handle.stats().skipped > 0, "a threshold of 1.0 should reuse some calls on every family"
    assert not torch.equal(cached, baseline)
    mmcache.disable(pipe)
    assert torch.equal(generate(pipe, family), baseline)


def test_two_identical_calls_give_identical_outputs(family_pipe):
    family, pipe, _ = family_pipe
    with mmcache.enabled(pipe, EAGER_REUSE) as handle:
        first = generate(pipe, family)
        second = generate(pipe, family)
    assert torch.equal(first, second)
    runs = handle.history
    assert len(runs) == 2
    assert [r.computed for r in runs[0].timeline] == [r.computed for r in runs[1].timeline]


def test_counters_add_up(family_pipe):
    family, pipe, _ = family_pipe
    with mmcache.enabled(pipe, EAGER_REUSE) as handle:
        generate(pipe, family, steps=8)
    stats = handle.stats()
    assert stats.computed + stats.skipped == stats.calls == len(stats.timeline)
    assert sum(b.calls for b in stats.branches.values()) == stats.calls
    for name, counts in stats.branches.items():
        assert counts.computed + counts.skipped == counts.calls == 8, name
        steps = [r.step for r in stats.timeline if r.branch == name]
        assert steps == list(range(8))
    assert stats.num_steps == 8
    assert stats.timeline[0].computed and stats.timeline[-1].computed


def test_larger_threshold_never_computes_more(family_pipe):
    family, pipe, _ = family_pipe
    computed = []
    for threshold in (0.0, 0.05, 0.2, 0.5, 1.0, 4.0):
        with mmcache.enabled(pipe, mmcache.EasyCacheConfig(threshold=threshold, warmup_steps=2)) as handle:
            generate(pipe, family, steps=12)
        computed.append(handle.stats().computed)
    assert computed == sorted(computed, reverse=True), computed
    assert computed[-1] < computed[0]
