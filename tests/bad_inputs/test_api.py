"""Misuse of the Python API: each case raises its one clear error and leaves the pipeline usable."""

from __future__ import annotations

import pytest

import mmcache
from mmcache.pipelines.loader import load
from mmcache.pipelines.tiny.vlm import build_tiny_vlm

from .table_api import API_CASES
from .table_vlm_api import VLM_API_CASES


@pytest.mark.parametrize("call, error, message", API_CASES)
def test_misuse_raises_one_clear_error(call, error, message):
    pipe = load("tiny:wan2.1-t2v")
    with pytest.raises(error) as raised:
        call(pipe)
    assert message in str(raised.value).splitlines()[0]
    try:  # whatever the misuse left enabled, the pipeline still restores cleanly
        mmcache.disable(pipe)
    except mmcache.NotEnabledError:
        pass


@pytest.mark.parametrize("call, error, message", VLM_API_CASES)
def test_vlm_misuse_raises_one_clear_error(call, error, message, tmp_path):
    model = build_tiny_vlm("llava")
    with pytest.raises(error) as raised:
        call(model, tmp_path)
    assert message in str(raised.value).splitlines()[0]
    try:
        mmcache.disable(model)
    except mmcache.NotEnabledError:
        pass
    assert model.model.language_model.config._attn_implementation == "sdpa"
