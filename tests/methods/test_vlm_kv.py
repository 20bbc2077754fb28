"""KV methods on transformers' own VLM classes (tiny random weights): attachment, exactness, positions, scoping."""

from __future__ import annotations

import pytest
import torch

import mmcache
from mmcache.kv_api import enable_kv_policy
from mmcache.pipelines.tiny.vlm import TINY_VLMS, VIDEO_FAMILIES, build_tiny_vlm, tiny_vlm_inputs

from .vlm_helpers import KeepRealTokens, generate, same_prompt_twice, step_logits, teacher_forced_logits

CASES = [(family, "image") for family in TINY_VLMS] + [(family, "video") for family in VIDEO_FAMILIES]
NOTHING_DROPPED = [
    mmcache.ZipVLConfig(tau=1.0, important_bits=16, other_bits=16),
    mmcache.PrefixKVConfig(budget=1.0),
    mmcache.StreamingLLMConfig(budget=1.0),
    mmcache.SnapKVConfig(budget=1.0),
    mmcache.PyramidKVConfig(budget=1.0),
]


@pytest.fixture(scope="module", params=CASES, ids=lambda case: f"{case[0]}-{case[1]}")
def case(request):
    family, kind = request.param
    model = build_tiny_vlm(family)
    inputs = tiny_vlm_inputs(model, family, kind)
    return family, model, inputs, generate(model, inputs)


@pytest.mark.parametrize("config", NOTHING_DROPPED, ids=lambda config: config.method)
def test_nothing_dropped_is_bit_identical(case, config):
    family, model, inputs, plain = case
    with mmcache.enabled(model, config) as handle:
        result = generate(model, inputs)
    assert torch.equal(result.sequences, plain.sequences)
    assert torch.equal(step_logits(result), step_logits(plain))
    stats = handle.stats()
    assert stats.kept_fraction == 1.0 and len(stats.layers) == 4


def test_disable_restores_bit_identical_output(case):
    family, model, inputs, plain = case
    handle = mmcache.enable(model, mmcache.SnapKVConfig(budget=0.4, window=4))
    pruned = generate(model, inputs)
    stats = handle.stats()
    assert stats.kept_fraction < 0.6 and stats.prompt_kept_fraction <= 0.4 + 1 / stats.layers[0].prefill_tokens
    assert not torch.equal(step_logits(pruned), step_logits(plain))
    mmcache.disable(model)
    again = generate(model, inputs)
    assert torch.equal(again.sequences, plain.sequences) and torch.equal(step_logits(again), step_logits(plain))


@pytest.mark.parametrize("config", [mmcache.ZipVLConfig(tau=0.9), mmcache.PrefixKVConfig(budget=0.5)],
                         ids=lambda config: config.method)
def test_generation_after_real_pruning_stays_close(case, config):
    family, model, inputs, plain = case
    with mmcache.enabled(model, config) as handle:
        result = generate(model, inputs)
    assert handle.stats().kv_bytes_held < handle.stats().kv_bytes_full
    reference = teacher_forced_logits(model, inputs, result.sequences)
    cosine = torch.nn.functional.cosine_similarity(step_logits(result), reference, dim=-1)
    assert float(cosine.min()) > 0.8, cosine


def test_language_model_only_and_restored(case):
    family, model, inputs, _ = case
    adapter = mmcache.families()[family]
    language_model = adapter.find_language_model(model)
    vision = {id(module): module.config._attn_implementation for module in model.modules()
              if isinstance(getattr(module, "config", None), object) and hasattr(module, "config")
              and module is not language_model and "vision" in type(module.config).__name__.lower()}
    with mmcache.enabled(model, mmcache.StreamingLLMConfig(budget=0.5)):
        assert language_model.config._attn_implementation == "mmcache"
        for module in model.modules():
            if id(module) in vision:
                assert module.config._attn_implementation == vision[id(module)]
    assert language_model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("family", ["llava", "qwen2-vl"])
def test_dropping_padding_keeps_generation_identical(family):
    """A cache without its padding tokens: positions continue from the uncompressed length (1D and multimodal RoPE)."""
    model = build_tiny_vlm(family)
    inputs = same_prompt_twice(tiny_vlm_inputs(model, family, pad=3))
    plain = generate(model, inputs)
    handle = enable_kv_policy(model, lambda resolved: KeepRealTokens())
    try:
        pruned = generate(model, inputs)
        assert handle.stats().layers[0].prefill_kept == inputs["input_ids"].shape[1] - 3
    finally:
        mmcache.disable(model)
    assert torch.equal(pruned.sequences, plain.sequences)
    assert torch.allclose(step_logits(pruned), step_logits(plain), atol=1e-4)


def prefill_then_one_token(model, inputs, following, **extra):
    with torch.no_grad():
        first = model(**inputs, use_cache=True)
        return model(input_ids=following, cache=first.cache, **extra).logits, first.cache


def test_bare_forward_after_pruning_takes_positions_from_the_uncompressed_length():
    model = build_tiny_vlm("llava")
    inputs = same_prompt_twice(tiny_vlm_inputs(model, "llava", pad=3))
    following = torch.full((2, 1), 77)
    longer = torch.cat([inputs["attention_mask"], torch.ones(2, 1, dtype=torch.long)], dim=1)
    plain, _ = prefill_then_one_token(model, inputs, following, attention_mask=longer)
    enable_kv_policy(model, lambda resolved: KeepRealTokens())
    try:
        pruned, cache = prefill_then_one_token(model, inputs, following, attention_mask=longer)
    finally:
        mmcache.disable(model)
    length = inputs["input_ids"].shape[1]
    assert cache.layers[0].kept_tokens == length - 3 + 1 and cache.get_seq_length() == length + 1
    assert torch.allclose(pruned, plain, atol=1e-4)


def test_multimodal_rope_positions_continue_after_pruning():
    """Qwen2-VL's next position = cache length + its rope delta (vision tokens take fewer positions than tokens)."""
    model = build_tiny_vlm("qwen2-vl")
    inputs = same_prompt_twice(tiny_vlm_inputs(model, "qwen2-vl", pad=3))
    following = torch.full((2, 1), 77)

    def next_positions():
        with torch.no_grad():
            cache = model(**inputs, use_cache=True).cache
            embeds = model.get_input_embeddings()(following)
            return model.model.compute_3d_position_ids(input_ids=following, inputs_embeds=embeds, cache=cache), cache

    plain, _ = next_positions()
    enable_kv_policy(model, lambda resolved: KeepRealTokens())
    try:
        pruned, cache = next_positions()
    finally:
        mmcache.disable(model)
    assert cache.layers[0].kept_tokens == inputs["input_ids"].shape[1] - 3
    assert torch.equal(pruned, plain)
    assert int(plain.max()) < inputs["input_ids"].shape[1]  # rotary positions run behind the token count


def test_enable_on_an_object_holding_the_model():
    class Pipeline:  # the shape of a VLM pipeline: .model and .processor
        def __init__(self, model):
            self.model, self.processor = model, None

    model = build_tiny_vlm("llava")
    pipe = Pipeline(model)
    inputs = tiny_vlm_inputs(model, "llava")
    plain = generate(model, inputs)
    handle = mmcache.enable(pipe, mmcache.ZipVLConfig(tau=0.8, drop_unimportant=True, important_bits=16))
    assert handle.family == "llava" and "zipvl" in repr(handle)
    with pytest.raises(mmcache.AlreadyEnabledError):
        mmcache.enable(model, mmcache.PrefixKVConfig())
    generate(model, inputs)
    assert handle.stats().kept_fraction < 1.0
    mmcache.disable(pipe)
    assert torch.equal(step_logits(generate(model, inputs)), step_logits(plain))


def test_families_list_the_vision_language_models():
    registered = mmcache.families()
    for family in TINY_VLMS:
        assert isinstance(registered[family], mmcache.VLMAdapter)
    assert registered["qwen2-vl"].rope == "mrope" and registered["llava"].rope == "1d"
    model = build_tiny_vlm("qwen2.5-vl")
    assert registered["qwen2.5-vl"].token_ids(model) == {"image": 255, "video": 254}


def test_stats_account_bytes_and_flops():
    model = build_tiny_vlm("qwen2-vl")
    inputs = tiny_vlm_inputs(model, "qwen2-vl")
    with mmcache.enabled(model, mmcache.ZipVLConfig(tau=0.7, important_bits=4, other_bits=2)) as handle:
        generate(model, inputs, new_tokens=3)
        generate(model, inputs, new_tokens=3)
    stats = handle.stats()
    assert len(handle.history) == 2 and stats.run == 1 and stats.decode_forwards == 2
    length = inputs["input_ids"].shape[1]
    for layer in stats.layers:
        assert layer.prefill_tokens == length and layer.tokens_seen == length + 2
        assert layer.tokens_kept == layer.tokens_seen  # v1 keeps every token, most at 2 bits
        assert layer.important_tokens < length
        assert layer.kv_bytes_held < layer.kv_bytes_full / 2
        assert layer.prefill_attention_flops < layer.prefill_attention_flops_dense
    assert stats.prefill_flops_saved > 0 and stats.kv_compression > 2
    assert "zipvl run 1" in str(stats) and stats.as_dict()["kv_compression"] == stats.kv_compression
