"""The Python API misused on a vision-language model: each call raises one error of mmcache's own types whose
first line says what to do. Rows: ``case(id, call(model), error type, message)`` on a fresh tiny LLaVA."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

import mmcache
from mmcache import (AlreadyEnabledError, CalibrationMismatchError, ConfigError, EasyCacheConfig, PrefixKVConfig,
                     SnapKVConfig, ZipVLConfig)
from mmcache.pipelines.tiny.vlm import tiny_vlm_inputs


def case(id: str, call: Callable[[Any], Any], error: type[BaseException], message: str):
    return pytest.param(call, error, message, id=id)


def enable_twice(model: Any, tmp: Any) -> None:
    mmcache.enable(model, SnapKVConfig())
    mmcache.enable(model, SnapKVConfig())


def calibration_for_another_budget(model: Any, tmp: Any) -> None:
    inputs = [tiny_vlm_inputs(model, "llava")]
    path = mmcache.calibrate(model, method="prefixkv", inputs=inputs, budget=0.5, progress=False).save(tmp / "c.json")
    mmcache.enable(model, PrefixKVConfig(budget=0.3, calibration=str(path)))


def continue_a_plain_cache(model: Any) -> None:
    inputs = tiny_vlm_inputs(model, "llava")
    with torch.no_grad():
        cache = model(**inputs, use_cache=True).cache
    mmcache.enable(model, SnapKVConfig())
    with torch.no_grad():
        model(input_ids=torch.tensor([[5]]), cache=cache)


def quantize_a_padded_batch(model: Any) -> None:
    inputs = tiny_vlm_inputs(model, "llava", pad=2)
    mmcache.enable(model, ZipVLConfig(tau=0.8))
    with torch.no_grad():
        model(**inputs)


VLM_API_CASES = [
    case("kv-enable-twice", enable_twice, AlreadyEnabledError, "call mmcache.disable(...) first"),
    case("step-method-on-vlm", lambda model, tmp: mmcache.enable(model, EasyCacheConfig()), ConfigError,
         "['easycache'] work on diffusers pipelines"),
    case("two-kv-methods", lambda model, tmp: mmcache.enable(model, SnapKVConfig(), ZipVLConfig()), ConfigError,
         "Enable exactly one KV method"),
    case("no-kv-method", lambda model, tmp: mmcache.enable(model), ConfigError, "got none"),
    case("prefixkv-calibration-missing", lambda model, tmp: mmcache.enable(
        model, PrefixKVConfig(budget=0.5, calibration=str(tmp / "none.json"))), ConfigError, "does not exist"),
    case("prefixkv-calibration-other-budget", calibration_for_another_budget, CalibrationMismatchError,
         "made for budget 0.5, but PrefixKVConfig.budget is 0.3"),
    case("zipvl-group-not-dividing-head-dim", lambda model, tmp: mmcache.enable(model, ZipVLConfig(group_size=24)),
         ConfigError, "group_size (24) must divide the model's head dim (32)"),
    case("zipvl-quantized-padded-batch", lambda model, tmp: quantize_a_padded_batch(model), ConfigError,
         "takes unpadded prompts"),
    case("cache-filled-before-enable", lambda model, tmp: continue_a_plain_cache(model), ConfigError,
         "continues a KV cache made without mmcache"),
    case("kv-method-on-another-object", lambda model, tmp: mmcache.enable(object(), ZipVLConfig()), ConfigError,
         "compress the KV cache of a vision-language model"),
]
