"""The ERTACache corrections script: calibration caption choice and argument errors (the measurement
itself runs in tests/methods/test_ertacache_corrections.py)."""

from __future__ import annotations

import pytest

from mmcache.eval.ertacache_corrections import calibration_captions, parse_args
from mmcache.pipelines.toy.captions import held_out_specs, parse_caption


def test_default_calibration_captions_are_training_captions_on_every_background():
    captions = calibration_captions(4, None)
    held_out = {spec.text for spec in held_out_specs()}
    assert len(captions) == 4 and not held_out & set(captions)
    assert {parse_caption(text).background for text in captions} == {"black", "white", "gray"}


def test_one_background_calibration_stays_on_it():
    captions = calibration_captions(5, "gray")
    assert len(set(captions)) == 5
    assert {parse_caption(text).background for text in captions} == {"gray"}


@pytest.mark.parametrize("argv, message", [
    (["--calibration-captions", "a red circle moving left", "--calibration-background", "gray"],
     "leave out --calibration-background"),
    (["--calibration-captions", " "], "must be non-empty"),
    (["--prompts", "0"], "at least 1"),
])
def test_bad_arguments_get_one_clear_error(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err
