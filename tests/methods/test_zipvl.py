"""ZipVL: probes, normalized scores, the dynamic ratio, sparse prefill over important tokens, mixed-precision KV."""

from __future__ import annotations

import importlib

import pytest
import torch

import mmcache
from mmcache.kernels import token_subset_attention_reference
from mmcache.kv.attention import important_token_attention
from mmcache.kv.budgets import share_count
from mmcache.methods.zipvl import complement, normalized_scores, probe_rows
from mmcache.pipelines.tiny.vlm import build_tiny_vlm, tiny_vlm_inputs

from .vlm_helpers import generate, same_prompt_twice, step_logits, teacher_forced_logits


@pytest.fixture(scope="module")
def qwen():
    model = build_tiny_vlm("qwen2-vl")
    return model, tiny_vlm_inputs(model, "qwen2-vl")


def test_probes_are_the_recent_tokens_and_a_seeded_random_draw():
    rows = probe_rows(100, 0.05, 0.1, seed=3, device=torch.device("cpu"))
    assert rows.tolist() == sorted(rows.tolist()) and len(rows) == 15
    assert rows[-5:].tolist() == [95, 96, 97, 98, 99] and int(rows[:10].max()) < 95
    assert torch.equal(rows, probe_rows(100, 0.05, 0.1, seed=3, device=torch.device("cpu")))
    assert probe_rows(10, 0.0, 0.0, seed=0, device=torch.device("cpu")).tolist() == [9]


def test_normalized_scores_remove_the_causal_bias():
    """Every probe spreads its attention evenly over what it sees: the raw sums favour early keys, the
    normalized scores do not."""
    length, probes = 6, torch.tensor([2, 5])
    visible = (torch.arange(length).view(1, -1) <= probes.view(-1, 1)).view(1, 1, 2, length)
    weights = visible.float() / visible.float().sum(dim=-1, keepdim=True)
    raw = weights.sum(dim=2)[0, 0]
    assert raw[0] > raw[-1]
    scores = normalized_scores(weights.expand(1, 2, 2, length), visible)[0]
    seen_by_both, seen_by_one = scores[:3], scores[3:]
    assert torch.allclose(seen_by_both, torch.full((3,), (1 / 3 + 1 / 6) / 2))
    assert torch.allclose(seen_by_one, torch.full((3,), 1 / 6))


def test_share_count_is_the_fewest_tokens_holding_tau():
    scores = torch.tensor([[0.5, 0.1, 0.3, 0.1]])
    assert share_count(scores, 0.5) == 1
    assert share_count(scores, 0.8) == 2
    assert share_count(scores, 0.81) == 3
    assert share_count(scores, 1.0) == 4
    assert share_count(torch.tensor([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]]), 0.9) == 4  # the most over rows


def test_complement_is_every_other_position_in_order():
    index = torch.tensor([[[1, 4]]])
    assert complement(index, 6).tolist() == [[[0, 2, 3, 5]]]


@pytest.mark.parametrize("backend", ["auto", "triton"])
def test_important_token_attention_matches_masked_attention(backend):
    torch.manual_seed(0)
    dtype = torch.bfloat16 if backend == "triton" else torch.float32
    q = torch.randn(1, 4, 40, 32, dtype=dtype)
    k, v = (torch.randn(1, 2, 40, 32, dtype=dtype) for _ in range(2))
    important = torch.tensor([[[0, 3, 7, 8, 20, 21, 33, 39]]])
    fill = torch.randn_like(q)
    out = important_token_attention(q, k, v, important, fill, 32 ** -0.5, backend=backend)
    expected = token_subset_attention_reference(q.float(), k.float(), v.float(), important, fill.float(), causal=True,
                                                scale=32 ** -0.5)
    tolerance = 3e-2 if dtype == torch.bfloat16 else 1e-5
    assert torch.allclose(out.float(), expected, atol=tolerance)
    others = torch.ones(40, dtype=torch.bool)
    others[important[0, 0]] = False
    assert torch.equal(out[:, :, others], fill[:, :, others])


def test_sparse_prefill_computes_attention_among_important_tokens_only(qwen, monkeypatch):
    model, inputs = qwen
    shapes = []
    functional = torch.nn.functional
    original = functional.scaled_dot_product_attention

    def spy(query, key, *args, **kwargs):
        shapes.append((query.shape[2], key.shape[2]))
        return original(query, key, *args, **kwargs)

    monkeypatch.setattr(functional, "scaled_dot_product_attention", spy)
    with mmcache.enabled(model, mmcache.ZipVLConfig(tau=0.6, drop_unimportant=True, important_bits=16)) as handle:
        with torch.no_grad():
            model(**inputs)
    length = inputs["input_ids"].shape[1]
    important = [layer.important_tokens for layer in handle.stats().layers]
    language_calls = [shape for shape in shapes if shape[0] == shape[1] and shape[0] < length]
    assert sorted(size for size, _ in language_calls) == sorted(important)
    assert all(count < length for count in important)


def test_dynamic_ratio_follows_each_layer(qwen):
    model, inputs = qwen
    with mmcache.enabled(model, mmcache.ZipVLConfig(tau=0.6, drop_unimportant=True, important_bits=16)) as handle:
        generate(model, inputs, new_tokens=2)
    layers = handle.stats().layers
    for layer in layers:
        assert layer.prefill_kept == layer.important_tokens  # v2 keeps exactly the important tokens
    with mmcache.enabled(model, mmcache.ZipVLConfig(tau=0.9, drop_unimportant=True, important_bits=16)) as handle:
        generate(model, inputs, new_tokens=2)
    assert all(more.important_tokens >= fewer.important_tokens for more, fewer in zip(handle.stats().layers, layers))
    assert sum(layer.important_tokens for layer in handle.stats().layers) > sum(l.important_tokens for l in layers)


def test_mixed_precision_keeps_every_token_in_fewer_bytes(qwen):
    model, inputs = qwen
    with mmcache.enabled(model, mmcache.ZipVLConfig(tau=0.8, important_bits=4, other_bits=2)) as handle:
        result = generate(model, inputs)
    stats = handle.stats()
    assert stats.kept_fraction == 1.0 and stats.kv_compression > 3
    with mmcache.enabled(model, mmcache.ZipVLConfig(tau=0.8, important_bits=16, other_bits=2)) as handle:
        generate(model, inputs)
    assert 1 < handle.stats().kv_compression < stats.kv_compression
    reference = teacher_forced_logits(model, inputs, result.sequences)
    assert float(torch.nn.functional.cosine_similarity(step_logits(result), reference, dim=-1).min()) > 0.9


def test_quantized_cache_decodes_through_the_kernels_in_half_precision(monkeypatch):
    """bf16 model, backend "triton" (the interpreter here): sparse prefill through ``token_subset_attention``,
    decoding over the packed segments through ``quantized_decode_attention``."""
    decode_module = importlib.import_module("mmcache.kernels.quantized_decode_attention")
    launched = []
    launch = decode_module.launch_quantized_decode_attention
    monkeypatch.setattr(decode_module, "launch_quantized_decode_attention",
                        lambda *args, **kwargs: launched.append(1) or launch(*args, **kwargs))
    half = build_tiny_vlm("qwen2-vl", dtype=torch.bfloat16)
    half_inputs = tiny_vlm_inputs(half, "qwen2-vl")
    with mmcache.enabled(half, mmcache.ZipVLConfig(tau=0.8, important_bits=4, other_bits=2, backend="triton")):
        result = generate(half, half_inputs, new_tokens=2)
    assert torch.isfinite(step_logits(result)).all()
    assert len(launched) == 4  # one decode step, four layers


def test_padded_batch_drops_but_does_not_quantize():
    model = build_tiny_vlm("llava")
    inputs = same_prompt_twice(tiny_vlm_inputs(model, "llava", pad=3), row=1)
    inputs["attention_mask"][0, :3] = 1  # the first row is real from its first token: a ragged batch
    with mmcache.enabled(model, mmcache.ZipVLConfig(tau=0.8, drop_unimportant=True, important_bits=16)) as handle:
        generate(model, inputs, new_tokens=2)
    assert handle.stats().kept_fraction < 1
    with mmcache.enabled(model, mmcache.ZipVLConfig(tau=0.8)):
        with pytest.raises(mmcache.ConfigError, match="takes unpadded prompts"):
            generate(model, inputs, new_tokens=2)
