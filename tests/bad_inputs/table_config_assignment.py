"""Config fields assigned after creation (``cfg.threshold = "abc"``): each must be refused in one line.

Rows: ``pytest.param(make_config, field, value, error type, message, id=...)``, where ``make_config()``
returns a fresh config. A refused assignment keeps the field's previous value (checked by the test).
"""

from __future__ import annotations

import pytest

from .table_calibration_files import valid

from mmcache import (ConfigError, EasyCacheConfig, ERTACacheConfig, FlowCacheConfig, PrefixKVConfig, PyramidKVConfig,
                     ReuseScheduleConfig, SnapKVConfig, SparseAttentionConfig, StreamingLLMConfig, ZipVLConfig)


def row(make, field, value, message, id):
    return pytest.param(make, field, value, ConfigError, message, id=id)


CONFIG_ASSIGNMENT_CASES = [
    row(EasyCacheConfig, "threshold", "abc", "threshold must be a finite number", "easycache-threshold-text"),
    row(EasyCacheConfig, "threshold", float("nan"), "threshold must be a finite number", "easycache-threshold-nan"),
    row(EasyCacheConfig, "threshold", -0.1, "threshold must be >= 0", "easycache-threshold-negative"),
    row(EasyCacheConfig, "threshold", True, "threshold must be a finite number", "easycache-threshold-bool"),
    row(EasyCacheConfig, "warmup_steps", 2.5, "warmup_steps must be an integer >= 0", "easycache-warmup-fraction"),
    row(EasyCacheConfig, "warmup_steps", -1, "warmup_steps must be an integer >= 0", "easycache-warmup-negative"),
    row(EasyCacheConfig, "final_steps", None, "final_steps must be an integer >= 0", "easycache-final-none"),
    row(ReuseScheduleConfig, "reuse_steps", [1, 1], "has repeated steps", "schedule-repeated"),
    row(ReuseScheduleConfig, "reuse_steps", ["a"], "must hold integers >= 0", "schedule-text"),
    row(ReuseScheduleConfig, "reuse_steps", "1,2", "must be a list of step indices", "schedule-string"),
    row(SparseAttentionConfig, "density", 0, "density must be in (0, 1]", "sparse-density-zero"),
    row(SparseAttentionConfig, "density", 2.0, "density must be in (0, 1]", "sparse-density-above-one"),
    row(SparseAttentionConfig, "block_size", 100, "block_size must be a positive multiple", "sparse-block-size"),
    row(SparseAttentionConfig, "backend", "cuda", "backend must be one of", "sparse-backend"),
    row(SparseAttentionConfig, "dense_layers", [-1], "dense_layers must be block indices", "sparse-dense-layers"),
    row(lambda: SparseAttentionConfig(density=None, top_p=0.9), "density", 0.5, "one of density and top_p",
        "sparse-density-and-top-p"),
    row(FlowCacheConfig, "threshold", "fast", "threshold must be a finite number", "flowcache-threshold-text"),
    row(FlowCacheConfig, "kv_budget", 0, "kv_budget must be None or a number of tokens >= 1", "flowcache-budget-zero"),
    row(FlowCacheConfig, "kv_budget", 12.5, "kv_budget must be None or a number", "flowcache-budget-fraction"),
    row(FlowCacheConfig, "pool_kernel", 4, "pool_kernel must be an odd integer", "flowcache-pool-even"),
    row(FlowCacheConfig, "importance_weight", 1.5, "importance_weight must be in [0, 1]", "flowcache-lambda"),
    row(FlowCacheConfig, "metric", "output", "metric must be one of", "flowcache-metric"),
    row(FlowCacheConfig, "rescale", [], "rescale must be None or a list", "flowcache-rescale-empty"),
    row(FlowCacheConfig, "restructure", "yes", "restructure must be None, true or false", "flowcache-restructure"),
    row(FlowCacheConfig, "text_kv", 1, "text_kv must be None, true or false", "flowcache-text-kv"),
    row(FlowCacheConfig, "warmup_steps", -2, "warmup_steps must be an integer >= 0", "flowcache-warmup"),
    row(lambda: ERTACacheConfig(calibration=valid()), "rectification", "yes", "rectification must be True or False",
        "erta-rectification-text"),
    row(lambda: ERTACacheConfig(calibration=valid()), "calibration", "missing.json", "does not exist",
        "erta-calibration-missing"),
    row(lambda: ERTACacheConfig(calibration=valid()), "calibration", None, "needs calibration", "erta-calibration-none"),
    row(lambda: ERTACacheConfig(calibration=valid()), "time_adjustment", True, "needs a calibration made with a "
        "flow-matching Euler scheduler", "erta-time-adjustment-without-phi"),
    row(ZipVLConfig, "tau", 0, "tau must be the share of attention mass kept, in (0, 1]", "zipvl-tau-zero"),
    row(ZipVLConfig, "tau", 1.5, "tau must be the share of attention mass kept", "zipvl-tau-above-one"),
    row(ZipVLConfig, "tau", "high", "tau must be the share", "zipvl-tau-text"),
    row(ZipVLConfig, "probe_recent", -0.1, "probe_recent must be a share of the prompt's tokens", "zipvl-probes"),
    row(ZipVLConfig, "probe_random", float("nan"), "probe_random must be a share", "zipvl-probes-nan"),
    row(ZipVLConfig, "important_bits", 3, "important_bits must be one of (2, 4, 16)", "zipvl-bits-three"),
    row(ZipVLConfig, "other_bits", True, "other_bits must be one of (2, 4, 16)", "zipvl-bits-bool"),
    row(ZipVLConfig, "drop_unimportant", "yes", "drop_unimportant must be True or False", "zipvl-drop-text"),
    row(ZipVLConfig, "group_size", 0, "group_size must be an integer >= 1", "zipvl-group-zero"),
    row(ZipVLConfig, "backend", "cuda", "backend must be one of", "zipvl-backend"),
    row(PrefixKVConfig, "budget", 0, "budget must be the fraction of the KV cache kept, in (0, 1]", "prefixkv-budget-zero"),
    row(PrefixKVConfig, "budget", 2, "budget must be the fraction", "prefixkv-budget-two"),
    row(PrefixKVConfig, "calibration", "  ", "calibration must be None or the path", "prefixkv-calibration-blank"),
    row(PrefixKVConfig, "calibration", {"budget": 0.5}, "calibration must be None or the path", "prefixkv-calibration-dict"),
    row(PrefixKVConfig, "decode_eviction", 1, "decode_eviction must be True or False", "prefixkv-decode-int"),
    row(StreamingLLMConfig, "budget", -0.5, "budget must be the fraction of the prompt's KV cache kept", "streaming-budget"),
    row(StreamingLLMConfig, "sinks", -1, "sinks must be an integer >= 0", "streaming-sinks"),
    row(SnapKVConfig, "window", 0, "window must be an integer >= 1", "snapkv-window"),
    row(SnapKVConfig, "kernel", 4, "kernel must be an odd integer >= 1", "snapkv-kernel-even"),
    row(PyramidKVConfig, "beta", 0.5, "beta must be a number >= 1", "pyramidkv-beta"),
]
