"""Every model `mmcache models` lists runs from `generate`, `eval` and the demo's runner with its own settings."""

from __future__ import annotations

import json

import pytest

from mmcache.cli.main import main
from mmcache.pipelines.loader import TINY_PREFIX, available_models
from mmcache.pipelines.tiny import TINY_BUILDERS

TINY_MODELS = [TINY_PREFIX + name for name in TINY_BUILDERS]


def test_models_lists_every_tiny_model(capsys):
    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert all(model in listed for model in TINY_MODELS) and set(TINY_MODELS) <= set(available_models())


@pytest.mark.parametrize("model", TINY_MODELS)
def test_generate_runs_every_tiny_model(model, tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["generate", "--model", model, "--steps", "2", "--quiet", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    assert out.stat().st_size > 0


@pytest.mark.parametrize("model", ["tiny:cogvideox", "tiny:wan2.1-i2v"])
def test_eval_runs_models_with_stored_call_settings(model, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["eval", "--model", model, "--steps", "2", "--limit-prompts", "1", "--vbench", "off", "--quiet",
            "--no-warmup-run", "--methods", "easycache:threshold=0.5,warmup_steps=1", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert all(method["done"] == 1 for method in summary.values())


def test_the_demo_runs_an_image_to_video_model_with_its_stored_image(tmp_path):
    from mmcache import EasyCacheConfig
    from mmcache.demos.compare import ComparisonRunner
    from mmcache.demos.outputs import OutputFolder
    from mmcache.demos.state import ModelCache
    from mmcache.pipelines.generation import GenerationRequest
    from mmcache.pipelines.loader import load

    runner = ComparisonRunner(ModelCache(load), outputs=OutputFolder(tmp_path))
    request = GenerationRequest(prompt="a red circle", num_inference_steps=2, height=16, width=16, num_frames=5,
                                guidance_scale=5.0)
    result = runner.run("tiny:wan2.1-i2v", request, EasyCacheConfig(threshold=0.5, warmup_steps=1))
    assert result.accelerated_video.stat().st_size > 0
