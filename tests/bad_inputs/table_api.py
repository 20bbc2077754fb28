"""The Python API misused: each call raises one error of mmcache's own types (or ``TypeError`` for a
misspelt config field), whose first line says what to do."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

import mmcache
from mmcache import AlreadyEnabledError, ConfigError, EasyCacheConfig, NotEnabledError, UnsupportedModelError
from mmcache.pipelines.generation import GenerationRequest, call_arguments


def case(id: str, call: Callable[[Any], Any], error: type[BaseException], message: str):
    """``call(pipe)`` on a fresh tiny Wan pipeline (``tiny:wan2.1-t2v``)."""
    return pytest.param(call, error, message, id=id)


def enable_twice(pipe: Any) -> None:
    mmcache.enable(pipe, EasyCacheConfig())
    mmcache.enable(pipe, EasyCacheConfig())


def nested_context(pipe: Any) -> None:
    with mmcache.enabled(pipe, EasyCacheConfig()):
        with mmcache.enabled(pipe, EasyCacheConfig()):
            pass


API_CASES = [
    case("enable-twice", enable_twice, AlreadyEnabledError, "call mmcache.disable(...) first"),
    case("enabled-inside-enabled", nested_context, AlreadyEnabledError, "is already enabled"),
    case("disable-without-enable", lambda pipe: mmcache.disable(pipe), NotEnabledError, "nothing to disable"),
    case("config-as-dict", lambda pipe: mmcache.enable(pipe, {"threshold": 0.1}), ConfigError,
         "takes method configs such as EasyCacheConfig(...), got dict"),
    case("config-as-name", lambda pipe: mmcache.enable(pipe, "easycache"), ConfigError, "got str"),
    case("same-method-twice", lambda pipe: mmcache.enable(pipe, EasyCacheConfig(), EasyCacheConfig()), ConfigError,
         "Each method can be enabled once"),
    case("module-not-supported", lambda pipe: mmcache.enable(torch.nn.Linear(2, 2), EasyCacheConfig()),
         UnsupportedModelError, "does not support the module Linear"),
    case("none-as-pipeline", lambda pipe: mmcache.enable(None, EasyCacheConfig()), UnsupportedModelError,
         "objects of type NoneType"),
    case("kv-method-on-a-pipeline", lambda pipe: mmcache.enable(pipe, mmcache.ZipVLConfig()), ConfigError,
         "['zipvl'] compress the KV cache of a vision-language model"),
    case("threshold-negative", lambda pipe: EasyCacheConfig(threshold=-1), ConfigError, "threshold must be >= 0"),
    case("threshold-text", lambda pipe: EasyCacheConfig(threshold="abc"), ConfigError, "threshold must be a finite number"),
    case("field-misspelt", lambda pipe: EasyCacheConfig(tau=1), TypeError, "unexpected keyword argument 'tau'"),
    case("request-extra-unknown", lambda pipe: call_arguments(pipe, GenerationRequest("p", extra={"colour": 1})),
         ValueError, "WanPipeline does not accept ['colour']"),
]
