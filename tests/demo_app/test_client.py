"""The demo driven end to end with gradio_client, as a remote user would."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mmcache.methods.base import registered_methods
from mmcache.video import read_mp4, video_codec

from .conftest import TEST_KNOBS

API = "/generate"


def generate(client: Any, settings: dict[str, Any], **overrides: Any) -> tuple:
    arguments = {"prompt": "a red circle moving left", **settings, **TEST_KNOBS, **overrides}
    return client.predict(api_name=API, **arguments)


def test_generation_returns_playable_videos_and_consistent_numbers(demo_server, client):
    baseline_path, accelerated_path, summary, plot_path, metrics = generate(client, demo_server.settings, seed=11)

    baseline, accelerated = read_mp4(baseline_path), read_mp4(accelerated_path)
    assert video_codec(baseline_path) == video_codec(accelerated_path) == "h264"
    frames, height, width, _ = metrics["video_shape"]
    assert baseline.shape == accelerated.shape
    assert baseline.shape[0] == frames and baseline.shape[1] % height == 0 and baseline.shape[1] >= 256
    assert Image.open(plot_path).size[0] > 500

    fast, base = metrics["accelerated"], metrics["baseline"]
    timeline = metrics["timeline"]
    assert fast["calls"] == len(timeline) == base["calls"]
    assert fast["computed"] == sum(step["computed"] for step in timeline)
    assert fast["skipped"] == fast["calls"] - fast["computed"] > 0, "the test knobs should reuse some steps"
    for branch, counts in fast["branches"].items():
        mine = [step for step in timeline if step["branch"] == branch]
        assert counts["calls"] == len(mine) and counts["computed"] == sum(step["computed"] for step in mine)
    assert metrics["speedup"]["denoiser_calls"] == pytest.approx(base["calls"] / fast["computed"])
    assert metrics["speedup"]["wall"] == pytest.approx(base["wall_seconds"] / fast["wall_seconds"])
    assert metrics["config"] == {"method": "easycache", "threshold": 0.5, "warmup_steps": 1, "final_steps": 1}
    assert 0 < metrics["psnr_db"] <= 100 and 0 < metrics["ssim"] <= 1
    assert f"({base['calls']} → {fast['computed']} computed)" in summary
    assert f"PSNR {metrics['psnr_db']:.2f} dB" in summary and f"SSIM {metrics['ssim']:.4f}" in summary
    json.dumps(metrics)


def test_moving_the_threshold_reruns_only_the_accelerated_side(demo_server, client):
    # Timings on shared CPUs are noisy: a fresh setting per attempt, the claim must hold in one.
    for seed in (21, 22, 23):
        first = generate(client, demo_server.settings, seed=seed, easycache_threshold=0.5)
        second = generate(client, demo_server.settings, seed=seed, easycache_threshold=0.3)
        before, after = first[4], second[4]
        assert not before["baseline"]["from_cache"] and after["baseline"]["from_cache"]
        assert "reused from the baseline cache" in second[2] and "generated for this request" in first[2]
        assert after["baseline"]["wall_seconds"] == before["baseline"]["wall_seconds"]
        assert np.array_equal(read_mp4(first[0]), read_mp4(second[0]))
        assert after["config"]["threshold"] == 0.3
        if after["request_seconds"] < before["request_seconds"]:
            return
    pytest.fail("a request with a cached baseline was never faster than the one that generated it")


BAD_INPUTS = [
    ({"prompt": "   "}, "prompt is empty"),
    ({"steps": 0}, "steps must be from 1 to 200"),
    ({"steps": 500}, "steps must be from 1 to 200"),
    ({"height": 24}, "height must be a multiple of"),
    ({"width": 4096}, "width must be from 16 to 2048"),
    ({"frames": 4}, "frames must be"),
    ({"guidance_scale": -1}, "guidance scale must be from 0 to 50"),
    ({"easycache_threshold": -0.5}, "less than minimum value 0"),
    ({"easycache_warmup_steps": -2}, "warmup_steps must be an integer >= 0"),
    ({"model": "no-such-model"}, "Unknown model 'no-such-model'"),
    ({"method": "schedule", "schedule_reuse_steps": "2, x"}, "whole numbers separated by commas"),
]


@pytest.mark.parametrize("overrides, message", BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_shows_a_clear_message(demo_server, client, overrides, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        generate(client, demo_server.settings, **overrides)


def _ertacache_needed() -> None:
    if "ertacache" not in registered_methods():
        pytest.skip("ertacache is not registered in this build")


def test_unreadable_calibration_file_shows_a_clear_message(demo_server, client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    _ertacache_needed()
    with pytest.raises(AppError, match="does not exist"):
        generate(client, demo_server.settings, method="ertacache", ertacache_calibration=str(tmp_path / "none.json"))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("this is not json")
    with pytest.raises(AppError, match="calibration"):
        generate(client, demo_server.settings, method="ertacache", ertacache_calibration_upload=handle_file(garbage))


def test_app_keeps_serving_after_bad_input(demo_server, client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError):
        generate(client, demo_server.settings, prompt="")
    result = generate(client, demo_server.settings, seed=31)
    assert Path(result[1]).is_file() and result[4]["accelerated"]["calls"] > 0


def test_two_concurrent_requests_both_complete(demo_server, tmp_path):
    results: dict[int, Any] = {}

    def request(seed: int) -> None:
        client = demo_server.client(tmp_path / str(seed))
        try:
            results[seed] = generate(client, demo_server.settings, seed=seed)
        except Exception as error:  # reported below
            results[seed] = error

    threads = [threading.Thread(target=request, args=(seed,)) for seed in (41, 42)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(results) == [41, 42]
    for seed, result in results.items():
        assert not isinstance(result, Exception), f"request {seed} failed: {result!r}"
        assert result[4]["request"]["seed"] == seed
        assert read_mp4(result[0]).shape == read_mp4(result[1]).shape


def test_calibrated_method_runs_from_an_uploaded_file_and_a_mismatch_is_explained(demo_server, client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    _ertacache_needed()
    import mmcache
    from mmcache.pipelines.loader import load

    settings = demo_server.settings
    pipe = load(demo_server.model)
    pipe.set_progress_bar_config(disable=True)
    calibration = mmcache.calibrate(
        pipe, prompts=["a red circle moving left"], threshold=0.5, progress=False, guidance_scale=5.0,
        num_inference_steps=settings["steps"], height=settings["height"], width=settings["width"],
        num_frames=settings["frames"])
    path = calibration.save(tmp_path / "calibration.json")

    result = generate(client, settings, seed=51, method="ertacache", ertacache_calibration_upload=handle_file(path))
    assert result[4]["method"] == "ertacache" and result[4]["accelerated"]["skipped"] > 0
    with pytest.raises(AppError, match=f"made for {settings['steps']} denoising steps"):
        generate(client, {**settings, "steps": settings["steps"] + 1}, method="ertacache",
                 ertacache_calibration_upload=handle_file(path))


def test_a_local_diffusers_folder_can_be_typed_into_the_model_box(demo_server, client, tmp_path):
    from mmcache.pipelines.loader import load

    folder = tmp_path / "my-checkpoint"
    load("tiny:wan2.1-t2v").save_pretrained(folder)
    settings = {"steps": 4, "height": 16, "width": 16, "frames": 5}
    result = generate(client, settings, model=str(folder), seed=61)
    assert result[4]["model"] == str(folder) and read_mp4(result[1]).shape[0] == 5
