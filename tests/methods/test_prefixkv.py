"""PrefixKV: the global cumulative-priority threshold, its calibration file, per-layer eviction and the decode rule."""

from __future__ import annotations

import json

import pytest
import torch

import mmcache
from mmcache.cli.main import main
from mmcache.kv.budgets import cumulative_priority, evictions_at, global_threshold_evictions
from mmcache.pipelines.tiny.vlm import build_tiny_vlm, tiny_vlm_inputs

from .vlm_helpers import generate


@pytest.fixture(scope="module")
def qwen():
    model = build_tiny_vlm("qwen2-vl")
    return model, tiny_vlm_inputs(model, "qwen2-vl")


@pytest.fixture(scope="module")
def calibration_file(qwen, tmp_path_factory):
    model, _ = qwen
    samples = [tiny_vlm_inputs(model, "qwen2-vl", seed=seed) for seed in (1, 2)]
    calibration = mmcache.calibrate(model, method="prefixkv", inputs=samples, budget=0.4, progress=False)
    return calibration.save(tmp_path_factory.mktemp("prefixkv") / "prefixkv.json")


def test_cumulative_priority_curve():
    curve = cumulative_priority(torch.tensor([[1.0, 3.0, 0.0, 4.0]]))
    assert torch.allclose(curve, torch.tensor([[0.5, 0.875, 1.0, 1.0]], dtype=torch.float64))
    assert evictions_at(curve, 0.8, protected=0).tolist() == [2]  # keeps the two tokens holding 87.5 %


def test_one_threshold_gives_peaked_layers_fewer_tokens():
    length = 200
    flat = torch.ones(length)
    peaked = torch.zeros(length)
    peaked[:10] = 1.0
    scores = torch.stack([flat, peaked, (torch.arange(length, 0, -1) / length) ** 4])
    evicted = global_threshold_evictions(scores, 0.5, protected=5)
    target = 0.5 * scores.numel()
    assert abs(int(evicted.sum()) - target) <= 5
    assert evicted[1] > evicted[2] > evicted[0]  # the layer whose attention sits on few tokens evicts most


def test_calibration_file_round_trip_and_mismatches(qwen, calibration_file, tmp_path):
    model, _ = qwen
    loaded = mmcache.PrefixKVCalibration.load(calibration_file)
    assert loaded.budget == 0.4 and len(loaded.evict_fractions) == 4 and loaded.samples == 2
    assert abs(sum(loaded.evict_fractions) / 4 - 0.6) < 0.02
    assert loaded.target["model_class"] == "Qwen2VLForConditionalGeneration"
    with pytest.raises(mmcache.CalibrationMismatchError, match="made for budget 0.4"):
        mmcache.enable(model, mmcache.PrefixKVConfig(budget=0.5, calibration=str(calibration_file)))
    other = build_tiny_vlm("qwen2-vl", num_layers=3)
    with pytest.raises(mmcache.CalibrationMismatchError, match="num layers 4"):
        mmcache.enable(other, mmcache.PrefixKVConfig(budget=0.4, calibration=str(calibration_file)))
    with pytest.raises(mmcache.ConfigError, match="is a prefixkv calibration file"):
        mmcache.Calibration.load(calibration_file)


def test_each_layer_evicts_its_fraction_keeping_sinks_and_the_last_token(qwen, calibration_file):
    model, inputs = qwen
    fractions = mmcache.PrefixKVCalibration.load(calibration_file).evict_fractions
    config = mmcache.PrefixKVConfig(budget=0.4, calibration=str(calibration_file), decode_eviction=False)
    handle = mmcache.enable(model, config)
    try:
        with torch.no_grad():
            cache = model(**inputs, use_cache=True).cache
    finally:
        mmcache.disable(model)
    length = inputs["input_ids"].shape[1]
    for layer, fraction in zip(cache.layers, fractions):
        assert layer.kept_tokens == length - round(fraction * length)
        kept = set(layer.token_positions()[0, 0].tolist())
        assert {0, 1, 2, 3, length - 1} <= kept
    assert handle.history[-1].layers[0].prefill_kept == cache.layers[0].kept_tokens


def test_decoding_holds_each_layer_at_its_share(qwen, calibration_file):
    model, inputs = qwen
    with mmcache.enabled(model, mmcache.PrefixKVConfig(budget=0.4, calibration=str(calibration_file))) as handle:
        generate(model, inputs, new_tokens=20)
    for layer in handle.stats().layers:
        assert layer.tokens_seen == inputs["input_ids"].shape[1] + 19
        assert abs(layer.tokens_kept - 0.4 * layer.tokens_seen) <= 2


def test_decode_rule_evicts_by_position_at_a_fixed_slot(qwen, calibration_file):
    model, inputs = qwen
    handle = mmcache.enable(model, mmcache.PrefixKVConfig(budget=0.4, calibration=str(calibration_file)))
    try:
        with torch.no_grad():
            first = model(**inputs, use_cache=True)
            layer = first.cache.layers[0]
            before = layer.token_positions()[0, 0].tolist()
            share, slot = layer.state["prefixkv"]
            following = first.logits[:, -1:].argmax(-1)
            for _ in range(3):
                step = model(input_ids=following, cache=first.cache,
                             mm_token_type_ids=torch.zeros(1, 1, dtype=torch.int))
                following = step.logits[:, -1:].argmax(-1)
    finally:
        mmcache.disable(model)
    after = layer.token_positions()[0, 0].tolist()
    removed = [position for position in before if position not in after]
    assert removed == before[slot:slot + len(removed)] and len(removed) >= 1
    assert after[-3:] == [len(inputs["input_ids"][0]) + offset for offset in range(3)]


def test_without_calibration_the_threshold_is_searched_on_the_prompt(qwen):
    model, inputs = qwen
    with mmcache.enabled(model, mmcache.PrefixKVConfig(budget=0.3, decode_eviction=False)) as handle:
        generate(model, inputs, new_tokens=2)
    stats = handle.stats()
    kept = sum(layer.prefill_kept for layer in stats.layers)
    total = sum(layer.prefill_tokens for layer in stats.layers)
    assert abs(kept / total - 0.3) < 0.05
    assert all(layer.scoring_flops == layer.prefill_attention_flops_dense / 2 for layer in stats.layers)


def test_command_line_calibration_feeds_the_method(tmp_path, capsys):
    out = tmp_path / "c.json"
    code = main(["calibrate", "--method", "prefixkv", "--model", "tiny:llava", "--prompts", "builtin", "--budget",
                 "0.25", "--seeds", "0", "--quiet", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["method"] == "prefixkv" and data["budget"] == 0.25 and data["version"] == 2
    model = build_tiny_vlm("llava")
    with mmcache.enabled(model, mmcache.PrefixKVConfig(budget=0.25, calibration=str(out))) as handle:
        generate(model, tiny_vlm_inputs(model, "llava"), new_tokens=2)
    assert handle.stats().kept_fraction < 0.4
