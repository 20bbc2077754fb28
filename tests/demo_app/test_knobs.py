"""Method knobs come from the config dataclasses, so every registered method appears in the demo."""

from __future__ import annotations

import dataclasses

import pytest

from mmcache import EasyCacheConfig, FlowCacheConfig, ReuseScheduleConfig
from mmcache.methods.base import registered_methods
from mmcache.pipelines.loader import method_preset
from mmcache.demos.knobs import (
    KnobError,
    all_knobs,
    build_config,
    display_value,
    initial_values,
    knobs_of,
    merge_uploads,
    parameter_value,
)


@dataclasses.dataclass
class ExampleConfig:
    """A method as a future contributor might write it.

    Args:
        threshold: reuse while the metric stays below this.
        window: how many steps to look back.
        calibration: offline profile of the model.
    """

    threshold: float = 0.1
    window: int = 3
    enabled: bool = True
    adjust: bool | None = None
    reuse_steps: tuple[int, ...] = ()
    calibration: object = None
    label: str = "x"


def test_field_types_choose_the_control_kind_and_docstrings_the_help():
    knobs = {knob.field: knob for knob in knobs_of("example", ExampleConfig)}
    assert {field: knob.kind for field, knob in knobs.items()} == {
        "threshold": "threshold", "window": "int", "enabled": "bool", "adjust": "optional_bool",
        "reuse_steps": "int_list", "calibration": "file", "label": "text",
    }
    assert knobs["window"].help == "how many steps to look back."
    assert knobs["threshold"].name == "example_threshold"


def test_every_registered_method_has_knobs():
    assert set(all_knobs()) == set(registered_methods())
    assert [knob.field for knob in all_knobs()["easycache"]] == ["threshold", "warmup_steps", "final_steps"]


def test_knob_values_build_the_config():
    assert build_config("easycache", {"easycache_threshold": 0.2, "easycache_warmup_steps": 3.0}) == \
        EasyCacheConfig(threshold=0.2, warmup_steps=3)
    assert build_config("schedule", {"schedule_reuse_steps": "1, 3 5"}) == ReuseScheduleConfig(reuse_steps=(1, 3, 5))


def test_presets_named_after_the_model_set_the_starting_values():
    assert method_preset("toy-t2v", "easycache") == {"threshold": 0.05, "warmup_steps": 5}
    assert initial_values("easycache", "toy-t2v")["warmup_steps"] == 5
    assert initial_values("easycache", "tiny:wan2.1-t2v") == {"threshold": 0.05, "warmup_steps": 10, "final_steps": 1}
    assert initial_values("easycache", "x", {"threshold": 0.3})["threshold"] == 0.3
    # toy-ar's FlowCache preset: restructuring composed with one EasyCache decision per iteration
    assert FlowCacheConfig(**method_preset("toy-ar", "flowcache")) == \
        FlowCacheConfig(threshold=0, window_threshold=0.05, warmup_steps=5)
    assert initial_values("flowcache", "toy-ar")["window_threshold"] == 0.05


def test_tri_state_and_lists_round_trip_through_their_controls():
    knobs = {knob.field: knob for knob in knobs_of("example", ExampleConfig)}
    for value in (None, True, False):
        assert parameter_value(knobs["adjust"], display_value(knobs["adjust"], value)) is value
    assert parameter_value(knobs["reuse_steps"], display_value(knobs["reuse_steps"], (2, 4))) == (2, 4)


def test_optional_numbers_may_be_left_empty():
    @dataclasses.dataclass
    class WithOptional:
        density: float | None = None

    knob = knobs_of("example", WithOptional)[0]
    assert knob.kind == "float" and knob.optional
    assert parameter_value(knob, None) is None and parameter_value(knob, 0.25) == 0.25
    window = {knob.field: knob for knob in all_knobs()["flowcache"]}["window_threshold"]
    assert window.kind == "float" and window.optional  # no slider: it may be left empty (off)
    with pytest.raises(KnobError, match="needs a number"):
        parameter_value(knobs_of("example", ExampleConfig)[0], None)


def test_file_knobs_check_the_file_and_prefer_the_upload(tmp_path):
    knob = {knob.field: knob for knob in knobs_of("example", ExampleConfig)}["calibration"]
    with pytest.raises(KnobError, match="does not exist"):
        parameter_value(knob, str(tmp_path / "missing.json"))
    with pytest.raises(KnobError, match="is not a file"):
        parameter_value(knob, str(tmp_path))
    file = tmp_path / "calibration.json"
    file.write_text("{}")
    assert parameter_value(knob, str(file)) == str(file)
    assert parameter_value(knob, "  ") is None
    assert merge_uploads({"example_calibration": "typed", "example_calibration_upload": "uploaded"}) == \
        {"example_calibration": "uploaded"}
    assert merge_uploads({"example_calibration": "typed", "example_calibration_upload": None}) == \
        {"example_calibration": "typed"}


def test_unknown_method_is_reported():
    with pytest.raises(KnobError, match="Unknown method 'nope'"):
        build_config("nope", {})
