"""The method flags: a model's preset is the starting point, flags override it, a flag the method lacks is refused."""

from __future__ import annotations

import argparse

import pytest

from mmcache import FlowCacheConfig
from mmcache.cli.method_args import add_method_arguments, configs_from_args
from mmcache.errors import ConfigError
from mmcache.pipelines.loader import method_preset


def configs(*flags: str, model: str = "toy-ar", method: str = "flowcache"):
    parser = argparse.ArgumentParser()
    add_method_arguments(parser)
    return configs_from_args(parser.parse_args(["--method", method, *flags]), method_preset(model, method))


def test_the_models_preset_and_the_window_threshold_flag():
    assert configs() == [FlowCacheConfig(threshold=0, window_threshold=0.05, warmup_steps=5)]
    assert configs("--window-threshold", "0.03") == [FlowCacheConfig(threshold=0, window_threshold=0.03,
                                                                      warmup_steps=5)]
    assert configs("--threshold", "0.1") == [FlowCacheConfig(threshold=0.1, window_threshold=0.05, warmup_steps=5)]


def test_a_flag_the_method_does_not_have_is_refused_by_name():
    with pytest.raises(ConfigError, match="window_threshold"):
        configs("--window-threshold", "0.1", model="toy-t2v", method="easycache")
