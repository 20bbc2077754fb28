"""What users combine mmcache with: model CPU offload and torch.compile."""

from __future__ import annotations

import pytest
import torch

import mmcache
from mmcache.pipelines.tiny import generate_tiny as generate, build_tiny_pipeline


FAMILY = "wan2.1-t2v"
CONFIG = mmcache.EasyCacheConfig(threshold=0.5, warmup_steps=2)


@pytest.fixture(scope="module")
def reference():
    pipe = build_tiny_pipeline(FAMILY)
    with mmcache.enabled(pipe, CONFIG) as handle:
        out = generate(pipe, FAMILY)
    assert handle.stats().skipped > 0
    return out, [r.computed for r in handle.stats().timeline]


@pytest.mark.parametrize("order", ["offload_then_enable", "enable_then_offload"])
def test_model_cpu_offload_in_either_order(reference, order):
    expected, timeline = reference
    pipe = build_tiny_pipeline(FAMILY)
    if order == "offload_then_enable":
        pipe.enable_model_cpu_offload(device="cpu")
        handle = mmcache.enable(pipe, CONFIG)
    else:
        handle = mmcache.enable(pipe, CONFIG)
        pipe.enable_model_cpu_offload(device="cpu")
    first, second = generate(pipe, FAMILY), generate(pipe, FAMILY)
    assert torch.equal(first, expected) and torch.equal(second, expected)
    assert [[r.computed for r in run.timeline] for run in handle.history] == [timeline, timeline]
    mmcache.disable(pipe)
    plain = build_tiny_pipeline(FAMILY)
    assert torch.equal(generate(pipe, FAMILY), generate(plain, FAMILY))


@pytest.mark.parametrize("how", ["regional", "whole"])
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_torch_compile_after_enable_matches_eager(reference, how, backend):
    expected, timeline = reference
    torch._dynamo.reset()
    pipe = build_tiny_pipeline(FAMILY)
    handle = mmcache.enable(pipe, CONFIG)
    if how == "regional":
        pipe.transformer.compile_repeated_blocks(backend=backend)
    else:
        pipe.transformer = torch.compile(pipe.transformer, backend=backend)
    first, second = generate(pipe, FAMILY), generate(pipe, FAMILY)
    tolerance = 0.0 if backend == "aot_eager" else 1e-4
    assert (first - expected).abs().max().item() <= tolerance
    assert torch.equal(first, second)
    assert [[r.computed for r in run.timeline] for run in handle.history] == [timeline, timeline]
    mmcache.disable(pipe)


def test_enable_on_an_already_compiled_denoiser():
    torch._dynamo.reset()
    pipe = build_tiny_pipeline(FAMILY)
    baseline = generate(pipe, FAMILY)
    pipe.transformer = torch.compile(pipe.transformer, backend="aot_eager")
    with mmcache.enabled(pipe, mmcache.EasyCacheConfig(threshold=0.0)) as handle:
        assert torch.equal(generate(pipe, FAMILY), baseline)
    assert handle.stats().calls == 20
