"""Input checks: each bad value gets one message that says what to change."""

from __future__ import annotations

import pytest

from mmcache.demos.validation import DemoInputError, check_model_name, check_request, check_request_for_model
from mmcache.pipelines.loader import load

GOOD = {"prompt": "a red circle", "negative_prompt": "", "seed": 0, "steps": 6, "height": 16, "width": 16,
        "frames": 5, "guidance_scale": 5.0}


def test_a_good_request_passes_and_is_normalised():
    request = check_request(**{**GOOD, "prompt": "  a red circle  ", "steps": 6.0})
    assert request.prompt == "a red circle" and request.negative_prompt is None
    assert request.num_inference_steps == 6 and isinstance(request.num_inference_steps, int)


@pytest.mark.parametrize("field, value, message", [
    ("prompt", "", "prompt is empty"),
    ("steps", None, "steps is required"),
    ("steps", 2.5, "steps must be a whole number"),
    ("seed", -1, "seed must be from 0"),
    ("frames", 0, "frames must be from 1 to 1025"),
    ("guidance_scale", "x", "guidance scale must be a number"),
])
def test_bad_values_are_named(field, value, message):
    with pytest.raises(DemoInputError, match=message):
        check_request(**{**GOOD, field: value})


def test_model_dependent_checks_use_the_vae_and_patch_factors():
    pipe = load("tiny:wan2.1-t2v")
    assert check_request_for_model(check_request(**GOOD), pipe).num_frames == 5
    with pytest.raises(DemoInputError, match=r"multiple of 16 for this model, got 44 \(try 48\)"):
        check_request_for_model(check_request(**{**GOOD, "width": 44}), pipe)
    with pytest.raises(DemoInputError, match=r"4·k \+ 1 .* got 7 \(try 5\)"):
        check_request_for_model(check_request(**{**GOOD, "frames": 7}), pipe)


def test_models_are_known_names_or_local_diffusers_folders(tmp_path):
    assert check_model_name(" toy ", ["toy"]) == "toy"
    with pytest.raises(DemoInputError, match="not a diffusers pipeline"):
        check_model_name(str(tmp_path), ["toy"])
    (tmp_path / "model_index.json").write_text("{}")
    assert check_model_name(str(tmp_path), ["toy"]) == str(tmp_path)
    with pytest.raises(DemoInputError, match="Unknown model 'owner/model'"):
        check_model_name("owner/model", ["toy"])


def test_pipelines_needing_inputs_the_demo_lacks_are_refused_by_name():
    with pytest.raises(DemoInputError, match="WanImageToVideoPipeline needs image"):
        check_request_for_model(check_request(**GOOD), load("tiny:wan2.1-i2v"))
