"""ERTACache: calibration, schedule, the two corrections, mismatch checks, every family."""

from __future__ import annotations

import json

import pytest
import torch

import mmcache
from mmcache import CalibrationMismatchError, ConfigError
from mmcache.pipelines.tiny import ONE_LOOP, WINDOWED, generate_tiny as generate, build_tiny_pipeline, tiny_call_kwargs


PROMPTS = ["a red circle moving left", "a blue square moving up"]


def calibration_kwargs(family: str, steps: int) -> dict:
    kwargs = tiny_call_kwargs(family, num_inference_steps=steps)
    for key in ("prompt", "output_type"):
        kwargs.pop(key)
    return kwargs


def calibrate(pipe, family: str, steps: int = 10, threshold: float = 0.3, **extra) -> mmcache.Calibration:
    return mmcache.calibrate(pipe, prompts=PROMPTS[:1], seeds=[0], threshold=threshold, progress=False,
                             **{**calibration_kwargs(family, steps), **extra})


@pytest.mark.parametrize("family", sorted(WINDOWED))
def test_windowed_pipelines_are_refused_with_the_reason(family, wan_calibration):
    _, calibration = wan_calibration
    with pytest.raises(ConfigError, match="one denoising loop per call"):
        mmcache.enable(build_tiny_pipeline(family), mmcache.ERTACacheConfig(calibration))


@pytest.mark.parametrize("family", sorted(ONE_LOOP))
def test_empty_schedule_is_bit_identical_on_every_family(family):
    pipe = build_tiny_pipeline(family)
    calibration = calibrate(pipe, family, threshold=1e-9)
    assert calibration.reuse_steps == []
    baseline = generate(pipe, family)
    with mmcache.enabled(pipe, mmcache.ERTACacheConfig(calibration)) as handle:
        assert torch.equal(generate(pipe, family), baseline)
    assert handle.stats().skipped == 0


@pytest.mark.parametrize("family", ["wan2.1-t2v", "cogvideox", "flux"])
def test_reuses_exactly_the_calibrated_steps(family):
    pipe = build_tiny_pipeline(family)
    calibration = calibrate(pipe, family, threshold=0.5)
    assert calibration.reuse_steps, "a large threshold reuses something"
    with mmcache.enabled(pipe, mmcache.ERTACacheConfig(calibration)) as handle:
        generate(pipe, family)
    stats = handle.stats()
    for branch in stats.branches:
        reused = [r.step for r in stats.timeline if r.branch == branch and not r.computed]
        assert reused == calibration.reuse_steps
    assert stats.computed + stats.skipped == stats.calls


def test_calibration_is_deterministic_for_a_seed(tmp_path):
    pipe = build_tiny_pipeline("wan2.1-t2v")
    first = calibrate(pipe, "wan2.1-t2v").to_dict()
    second = calibrate(pipe, "wan2.1-t2v").to_dict()
    assert first == second
    path = calibrate(pipe, "wan2.1-t2v").save(tmp_path / "c.json")
    assert mmcache.Calibration.load(path).to_dict() == first


def test_time_adjustment_needs_an_euler_flow_sampler():
    pipe = build_tiny_pipeline("cogvideox")  # DDIM
    calibration = calibrate(pipe, "cogvideox", threshold=0.5)
    assert calibration.time_scale == {} and calibration.reuse_steps
    with pytest.raises(ConfigError, match="flow-matching Euler"):
        mmcache.ERTACacheConfig(calibration, time_adjustment=True)
    assert mmcache.ERTACacheConfig(calibration).uses_time_adjustment is False


@pytest.fixture(scope="module")
def wan_calibration():
    pipe = build_tiny_pipeline("wan2.1-t2v")
    return pipe, calibrate(pipe, "wan2.1-t2v", threshold=0.5)


def test_mismatched_model_is_rejected(wan_calibration):
    _, calibration = wan_calibration
    other = build_tiny_pipeline("skyreels-v2-t2v")
    with pytest.raises(CalibrationMismatchError, match="pipeline class WanPipeline"):
        mmcache.enable(other, mmcache.ERTACacheConfig(calibration))
    wan22 = build_tiny_pipeline("wan2.2-t2v")
    with pytest.raises(CalibrationMismatchError, match="denoiser classes"):
        mmcache.enable(wan22, mmcache.ERTACacheConfig(calibration))


def test_mismatched_config_hash_is_rejected(wan_calibration):
    _, calibration = wan_calibration
    pipe = build_tiny_pipeline("wan2.1-t2v")
    pipe.transformer.register_to_config(num_layers=3)
    with pytest.raises(CalibrationMismatchError, match="config hashes"):
        mmcache.enable(pipe, mmcache.ERTACacheConfig(calibration))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"steps": 8}, "made for 10 denoising steps"),
        ({"height": 32}, "latents of shape"),
        ({"guidance_scale": 1.0}, "branches"),
    ],
)
def test_mismatched_run_settings_are_rejected(wan_calibration, overrides, message):
    pipe, calibration = wan_calibration
    steps = overrides.pop("steps", 10)
    with mmcache.enabled(pipe, mmcache.ERTACacheConfig(calibration)):
        with pytest.raises(CalibrationMismatchError, match=message):
            generate(pipe, "wan2.1-t2v", steps=steps, **overrides)


def test_bad_calibration_files_are_rejected(tmp_path, wan_calibration):
    _, calibration = wan_calibration
    with pytest.raises(ConfigError, match="does not exist"):
        mmcache.ERTACacheConfig(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid mmcache calibration"):
        mmcache.ERTACacheConfig(str(tmp_path / "bad.json"))
    data = calibration.to_dict()
    data["version"] = 99
    (tmp_path / "v.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="version"):
        mmcache.ERTACacheConfig(str(tmp_path / "v.json"))
    with pytest.raises(ConfigError, match="needs calibration"):
        mmcache.ERTACacheConfig()


def test_config_round_trips_through_json(tmp_path, wan_calibration):
    _, calibration = wan_calibration
    path = str(calibration.save(tmp_path / "c.json"))
    config = mmcache.ERTACacheConfig(path, rectification=False)
    again = mmcache.MethodConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.loaded.reuse_steps == calibration.reuse_steps


def test_calibrate_input_errors():
    pipe = build_tiny_pipeline("wan2.1-t2v")
    with pytest.raises(ConfigError, match="num_inference_steps"):
        mmcache.calibrate(pipe, prompts=PROMPTS, progress=False)
    with pytest.raises(ConfigError, match="non-empty prompt"):
        mmcache.calibrate(pipe, prompts=[], num_inference_steps=4, progress=False)
    with pytest.raises(ConfigError, match="Unknown calibration method"):
        mmcache.calibrate(pipe, method="easycache", prompts=PROMPTS, num_inference_steps=4, progress=False)
