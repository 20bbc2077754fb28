"""Public API contract: enable/disable/enabled, clear errors, configs round trip."""

from __future__ import annotations

import json

import pytest
import torch

import mmcache
from mmcache import AlreadyEnabledError, ConfigError, NotEnabledError, UnsupportedModelError
from mmcache.pipelines.tiny import generate_tiny as generate, build_tiny_pipeline



@pytest.fixture(scope="module")
def wan():
    return build_tiny_pipeline("wan2.1-t2v")


def test_enabling_twice_raises(wan):
    with mmcache.enabled(wan, mmcache.EasyCacheConfig()):
        with pytest.raises(AlreadyEnabledError, match="already enabled"):
            mmcache.enable(wan, mmcache.EasyCacheConfig())
        with pytest.raises(AlreadyEnabledError):
            mmcache.enable(wan.transformer, mmcache.EasyCacheConfig())
    mmcache.enable(wan, mmcache.EasyCacheConfig()).disable()


def test_disable_without_enable_raises(wan):
    with pytest.raises(NotEnabledError, match="not enabled"):
        mmcache.disable(wan)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": -0.1}, "threshold must be >= 0"),
        ({"threshold": "0.1"}, "threshold must be a finite number"),
        ({"threshold": True}, "threshold must be a finite number"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"warmup_steps": 2.5}, "warmup_steps"),
        ({"final_steps": -3}, "final_steps"),
    ],
)
def test_bad_config_values_raise(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        mmcache.EasyCacheConfig(**kwargs)


def test_configs_round_trip_through_json():
    config = mmcache.EasyCacheConfig(threshold=0.2, warmup_steps=3, final_steps=2)
    data = json.loads(json.dumps(config.to_dict()))
    assert data["method"] == "easycache"
    assert mmcache.MethodConfig.from_dict(data) == config
    assert mmcache.EasyCacheConfig.from_dict(data) == config
    with pytest.raises(ConfigError, match="no field"):
        mmcache.MethodConfig.from_dict({"method": "easycache", "tau": 0.1})
    with pytest.raises(ConfigError, match="Unknown method"):
        mmcache.MethodConfig.from_dict({"method": "nope"})


def test_presets():
    assert mmcache.EasyCacheConfig.preset("wan") == mmcache.EasyCacheConfig(threshold=0.05, warmup_steps=10)
    assert mmcache.EasyCacheConfig.preset("hunyuan-video").threshold == 0.025
    assert mmcache.EasyCacheConfig.preset("wan", threshold=0.2).threshold == 0.2
    with pytest.raises(ConfigError, match="keyed by model family"):
        mmcache.EasyCacheConfig.preset("sdxl")


def test_non_config_arguments_and_duplicates_raise(wan):
    with pytest.raises(ConfigError, match="takes method configs"):
        mmcache.enable(wan, {"threshold": 0.1})
    with pytest.raises(ConfigError, match="once"):
        mmcache.enable(wan, mmcache.EasyCacheConfig(), mmcache.EasyCacheConfig())


@pytest.mark.parametrize("target", [torch.nn.Linear(2, 2), "a string", object()])
def test_unsupported_targets_list_the_supported_families(target):
    with pytest.raises(UnsupportedModelError) as error:
        mmcache.enable(target, mmcache.EasyCacheConfig())
    message = str(error.value)
    for family in ("wan", "hunyuan-video", "cogvideox", "ltx-video", "flux", "skyreels-v2"):
        assert family in message
    assert "Adding a family" in message


def test_image_to_video_diffusion_forcing_pipeline_is_refused_with_the_reason():
    from diffusers import SkyReelsV2DiffusionForcingImageToVideoPipeline

    sky = build_tiny_pipeline("skyreels-v2-t2v")
    df = SkyReelsV2DiffusionForcingImageToVideoPipeline(
        tokenizer=sky.tokenizer, text_encoder=sky.text_encoder, transformer=sky.transformer, vae=sky.vae,
        scheduler=sky.scheduler,
    )
    with pytest.raises(UnsupportedModelError, match="conditioning frames"):
        mmcache.enable(df, mmcache.EasyCacheConfig())


def test_enabled_context_manager_disables_on_exit_even_after_errors(wan):
    with pytest.raises(RuntimeError, match="boom"):
        with mmcache.enabled(wan, mmcache.EasyCacheConfig()) as handle:
            raise RuntimeError("boom")
    assert not handle.active
    mmcache.enable(wan).disable()


def test_stats_before_any_call_are_empty(wan):
    with mmcache.enabled(wan, mmcache.EasyCacheConfig()) as handle:
        stats = handle.stats()
    assert stats.calls == 0 and stats.skip_ratio == 0.0 and stats.estimated_speedup == 1.0


def test_stats_are_json_serialisable_and_readable(wan):
    with mmcache.enabled(wan, mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=2)) as handle:
        generate(wan, "wan2.1-t2v", steps=8)
    stats = handle.stats()
    data = json.loads(json.dumps(stats.as_dict()))
    assert data["calls"] == 16 and data["computed"] + data["skipped"] == 16
    assert data["estimated_speedup"] == pytest.approx(16 / data["computed"])
    assert data["measured_speedup"] is not None and data["measured_speedup"] > 1.0
    assert len(data["timeline"]) == 16 and set(data["branches"]) == {"cond", "uncond"}
    reused = [r for r in stats.timeline if not r.computed]
    assert all(r.metric is not None and r.metric < r.threshold for r in reused if r.branch == "cond")
    text = str(stats)
    assert "easycache" in text and "cond" in text and "timeline" in text


def test_observe_only_mode_counts_calls_without_changing_outputs(wan):
    baseline = generate(wan, "wan2.1-t2v", steps=5)
    with mmcache.enabled(wan) as handle:
        out = generate(wan, "wan2.1-t2v", steps=5)
    assert torch.equal(out, baseline)
    assert handle.stats().calls == 10 and handle.stats().skipped == 0


def test_bare_denoiser_without_step_count_gets_a_clear_error():
    flux = build_tiny_pipeline("flux")
    with mmcache.enabled(flux.transformer, mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=1)):
        with pytest.raises(ConfigError, match="num_inference_steps"):
            generate(flux, "flux", steps=4)
    with mmcache.enabled(flux.transformer, mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=1),
                         num_inference_steps=4) as handle:
        generate(flux, "flux", steps=4)
    assert handle.stats().calls == 4


def test_interrupted_call_does_not_leak_into_the_next_one(wan):
    config = mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=2)
    with mmcache.enabled(wan, config) as handle:
        reference = generate(wan, "wan2.1-t2v", steps=8)

        def interrupt(pipe, step, timestep, callback_kwargs):
            if step == 3:
                raise KeyboardInterrupt
            return callback_kwargs

        with pytest.raises(KeyboardInterrupt):
            generate(wan, "wan2.1-t2v", steps=8, callback_on_step_end=interrupt)
        again = generate(wan, "wan2.1-t2v", steps=8)
    assert torch.equal(again, reference)
    assert handle.history[-1].calls == 16
