"""The tables for calibration files and config assignment."""

from __future__ import annotations

import json

import pytest

import mmcache
from mmcache.calibration.file import config_hash
from mmcache.pipelines.tiny.vlm import build_tiny_vlm

from .table_calibration_files import CALIBRATION_FILE_CASES
from .table_config_assignment import CONFIG_ASSIGNMENT_CASES
from .table_prefixkv_files import HASH, PREFIXKV_FILE_CASES, valid
from .test_cli import PREFIXES, run_case


@pytest.mark.parametrize("case", CALIBRATION_FILE_CASES)
def test_calibration_files(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["generate"], tmp_path, capsys, request)


@pytest.mark.parametrize("make_config, field, value, error, message", CONFIG_ASSIGNMENT_CASES)
def test_config_assignment(make_config, field, value, error, message):
    config = make_config()
    before = getattr(config, field, None)
    with pytest.raises(error) as raised:
        setattr(config, field, value)
    assert message in str(raised.value).splitlines()[0]
    assert getattr(config, field, None) == before


@pytest.fixture(scope="module")
def tiny_llava():
    return build_tiny_vlm("llava")


@pytest.mark.parametrize("text, message", PREFIXKV_FILE_CASES)
def test_prefixkv_calibration_files(text, message, tiny_llava, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(text.replace(HASH, config_hash(tiny_llava.model.language_model)))
    with pytest.raises(mmcache.ConfigError) as raised:
        mmcache.enable(tiny_llava, mmcache.PrefixKVConfig(budget=0.5, calibration=str(path)))
    assert message in str(raised.value).splitlines()[0]
    assert mmcache.enable(tiny_llava, mmcache.PrefixKVConfig(budget=1.0)).disable() is None  # nothing left attached


def test_prefixkv_valid_file_is_accepted(tiny_llava, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(valid()).replace(HASH, config_hash(tiny_llava.model.language_model)))
    mmcache.enable(tiny_llava, mmcache.PrefixKVConfig(budget=0.5, calibration=str(path))).disable()
