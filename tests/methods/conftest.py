"""Fixtures shared by the KV-method tests."""

from __future__ import annotations

import pytest

from mmcache.pipelines.tiny.vlm import build_tiny_vlm, tiny_vlm_inputs


@pytest.fixture(scope="module")
def llava():
    """The tiny random LLaVA and one prompt's inputs."""
    model = build_tiny_vlm("llava")
    return model, tiny_vlm_inputs(model, "llava")
