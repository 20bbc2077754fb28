"""Linear-layer MAC counting: exact for a known layer, zero for reused denoiser calls."""

from __future__ import annotations

import torch

import mmcache
from mmcache.pipelines.compute import count_linear_macs
from mmcache.pipelines.generation import GenerationRequest, run_generation
from mmcache.pipelines.tiny import build_tiny_pipeline


def test_counts_tokens_times_in_times_out():
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    with count_linear_macs([model]) as counter:
        model(torch.randn(3, 5, 8))
    assert counter.macs == 15 * 8 * 16 + 15 * 16 * 4
    model(torch.randn(1, 8))
    assert counter.macs == 15 * 8 * 16 + 15 * 16 * 4, "hooks are removed after the block"


def test_reused_calls_cost_nothing():
    pipe = build_tiny_pipeline("wan2.1-t2v")
    request = GenerationRequest(prompt="a red circle", num_inference_steps=10, height=16, width=16, num_frames=5,
                                guidance_scale=5.0)
    baseline = run_generation(pipe, request, measure_compute=True)
    cached = run_generation(pipe, request, [mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=2)],
                            measure_compute=True)
    assert run_generation(pipe, request).denoiser_macs is None
    assert cached.stats.skipped > 0
    assert cached.denoiser_macs / baseline.denoiser_macs == cached.stats.computed / cached.stats.calls
