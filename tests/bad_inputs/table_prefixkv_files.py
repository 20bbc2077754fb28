"""PrefixKV calibration files that ``mmcache.enable(model, PrefixKVConfig(budget=0.5, calibration=FILE))`` must refuse
in one line, before any generation. Rows: ``case(id, file text, message)``; the model is a tiny 4-layer LLaVA, whose
language model's config hash replaces ``{hash}`` in the text."""

from __future__ import annotations

from typing import Any

import pytest

from .cases import json_editors

HASH = "{hash}"


def valid() -> dict[str, Any]:
    """A well-formed calibration for the tiny LLaVA at budget 0.5."""
    return {
        "version": 2, "method": "prefixkv",
        "target": {"model_class": "LlavaForConditionalGeneration", "language_model_class": "LlamaModel",
                   "language_model_config_hash": HASH,
                   "num_layers": 4},
        "budget": 0.5, "evict_fractions": [0.2, 0.4, 0.6, 0.8], "samples": 2, "prompt_lengths": [81, 81],
        "diagnostics": {},
    }


changed, without = json_editors(valid)


def case(id: str, text: str, message: str) -> Any:
    return pytest.param(text, message, id=id)


PREFIXKV_FILE_CASES = [
    case("not-json", "{not json", "not a valid mmcache calibration file (not JSON"),
    case("json-list", "[]", "expected a JSON object, got list"),
    case("old-version", changed("version", 1), "format version 1 is not supported"),
    case("ertacache-file", changed("method", "ertacache"), "is a ertacache calibration file, but prefixkv needs its own"),
    case("other-method", changed("method", "zipvl"), "field method: Input should be 'prefixkv'"),
    case("budget-zero", changed("budget", 0), "field budget: Input should be greater than 0"),
    case("budget-above-one", changed("budget", 1.5), "field budget: Input should be less than or equal to 1"),
    case("fractions-empty", changed("evict_fractions", []), "field evict_fractions: List should have at least 1 item"),
    case("fractions-per-layer", changed("evict_fractions", [0.5, 0.5]), "evict_fractions has 2 values but the model "
         "has 4 layers"),
    case("fraction-one", changed("evict_fractions", [0.2, 0.4, 0.6, 1.0]), "evict_fractions must lie in [0, 1)"),
    case("fraction-nan", changed("evict_fractions", [0.2, float("nan"), 0.6, 0.8]), "Input should be a finite number"),
    case("fraction-text", changed("evict_fractions", ["a", 0.4, 0.6, 0.8]), "field evict_fractions.0"),
    case("layers-zero", changed("target.num_layers", 0), "field target.num_layers: Input should be greater than 0"),
    case("target-missing", without("target"), "field target: Field required"),
    case("samples-zero", changed("samples", 0), "field samples: Input should be greater than 0"),
    case("unknown-field", changed("ratio", 0.5), "field ratio: Extra inputs are not permitted"),
    case("other-model", changed("target.model_class", "Qwen2VLForConditionalGeneration"),
         "made for model class Qwen2VLForConditionalGeneration, but the model has LlavaForConditionalGeneration"),
    case("other-language-model", changed("target.language_model_config_hash", "f" * 16),
         "made for language model config hash ffffffffffffffff"),
]
