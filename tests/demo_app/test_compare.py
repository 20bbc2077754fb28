"""The comparison behind the demo, without Gradio: progress phases, baseline reuse, the files it writes."""

from __future__ import annotations

import torch

from mmcache import EasyCacheConfig
from mmcache.demos.compare import ComparisonRunner
from mmcache.demos.outputs import OutputFolder
from mmcache.demos.state import ModelCache
from mmcache.pipelines.generation import GenerationRequest
from mmcache.pipelines.loader import load
from mmcache.video import read_mp4


def test_runner_reports_progress_and_reuses_the_baseline(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = ComparisonRunner(ModelCache(load), outputs=OutputFolder(tmp_path, keep=1))
        request = GenerationRequest(prompt="a red circle", seed=3, num_inference_steps=4, height=16, width=16,
                                    num_frames=5, guidance_scale=5.0)
        phases: list[tuple[str, int, int]] = []
        first = runner.run("tiny:wan2.1-t2v", request, EasyCacheConfig(threshold=0.5, warmup_steps=1),
                           lambda *update: phases.append(update))
        second = runner.run("tiny:wan2.1-t2v", request, EasyCacheConfig(threshold=0.0, warmup_steps=1),
                            lambda *update: phases.append(update))
    finally:
        torch.set_num_threads(threads)
    names = [phase for phase, _, _ in phases]
    assert names == ["loading", "warm-up", *["baseline"] * 4, *["accelerated"] * 4, "writing",
                     *["accelerated"] * 4, "writing"]
    assert [done for phase, done, total in phases if phase == "baseline"] == [1, 2, 3, 4]
    assert second.metrics["baseline"]["from_cache"] and second.baseline_video == first.baseline_video
    # threshold 0 never reuses: the accelerated video equals the baseline exactly
    assert second.metrics["accelerated"]["skipped"] == 0 and second.metrics["psnr_db"] == 100.0
    assert read_mp4(second.accelerated_video).shape == read_mp4(second.baseline_video).shape == (5, 256, 256, 3)
    assert not first.accelerated_video.exists(), "older runs are pruned (keep=1)"
