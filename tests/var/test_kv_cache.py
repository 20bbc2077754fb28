"""The transformer is block-causal over scales, its KV cache is exact, and a method can swap the cache per layer."""

import pytest
import torch
import torch.nn.functional as F

from mmcache.pipelines.var import KVCache, build_tiny_var

PROMPTS = ["a red circle on a black background", "a blue square on a white background"]


def draw(pipe, **kwargs):
    return pipe.sample_indices(PROMPTS, num_images=2, guidance_scale=3.0,
                               generator=torch.Generator().manual_seed(0), **kwargs)


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_var()


def test_a_later_scale_cannot_change_earlier_logits(pipe):
    model = pipe.transformer
    ids = pipe.branch_ids(PROMPTS)
    x = torch.randn(len(ids), model.L - model.first_l, model.config.z_channels)
    with torch.no_grad():
        base = model(ids, x)
        for si in range(1, len(model.patch_nums)):
            begin = model.begin_ends[si][0]
            changed = x.clone()
            changed[:, begin - model.first_l:] += torch.randn_like(changed[:, begin - model.first_l:])
            out = model(ids, changed)
            assert torch.allclose(out[:, :begin], base[:, :begin], atol=1e-6), f"scale {si} leaked backwards"
            assert not torch.allclose(out[:, begin:], base[:, begin:], atol=1e-3)


def test_cached_sampling_equals_the_full_sequence_forward(pipe):
    logits = []
    handle = pipe.transformer.head.register_forward_hook(lambda _m, _i, out: logits.append(out.float()))
    try:
        indices = draw(pipe)
    finally:
        handle.remove()
    both = [index.repeat(2, 1) for index in indices]  # the unconditional rows saw the same tokens
    with torch.no_grad():
        full = pipe.transformer(pipe.branch_ids(PROMPTS, 2), pipe.tokenizer.quantize.teacher_forcing_input(both))
    assert [piece.shape[1] for piece in logits] == [1, 4, 16]
    assert torch.allclose(torch.cat(logits, dim=1), full, atol=1e-5)


class CountingCache(KVCache):
    """A pass-through replacement: the plain cache, counting its calls."""

    def attend(self, q, k, v, scale, softmax_scale):
        self.calls = getattr(self, "calls", 0) + 1
        return super().attend(q, k, v, scale, softmax_scale)


class PerHeadCache(KVCache):
    """Keeps a token list per head and attends head by head, as a head-aware compression would."""

    def append(self, k, v, scale):
        self.heads = getattr(self, "heads", [([], []) for _ in range(k.shape[1])])
        for head, (keys, values) in enumerate(self.heads):
            keys.append(k[:, head])
            values.append(v[:, head])

    def keys_values(self):
        return (torch.stack([torch.cat(keys, 1) for keys, _ in self.heads], 1),
                torch.stack([torch.cat(values, 1) for _, values in self.heads], 1))

    def attend(self, q, k, v, scale, softmax_scale):
        self.append(k, v, scale)
        return torch.cat([F.scaled_dot_product_attention(q[:, h:h + 1], torch.cat(keys, 1)[:, None],
                                                         torch.cat(values, 1)[:, None], scale=softmax_scale)
                          for h, (keys, values) in enumerate(self.heads)], dim=1)


def test_a_pass_through_cache_gives_identical_images(pipe):
    plain = draw(pipe)
    made = []
    pipe.transformer.kv_cache_factory = lambda layer: made.append(CountingCache(layer)) or made[-1]
    try:
        swapped = draw(pipe)
    finally:
        pipe.transformer.kv_cache_factory = KVCache
    assert all(torch.equal(a, b) for a, b in zip(plain, swapped))
    assert [cache.layer for cache in made] == list(range(len(pipe.transformer.blocks)))
    assert all(cache.calls == len(pipe.transformer.patch_nums) for cache in made)
    heads, head_dim = pipe.transformer.blocks[0].attn.num_heads, pipe.transformer.blocks[0].attn.head_dim
    assert made[0].keys_values()[0].shape == (2 * 4, heads, pipe.transformer.L, head_dim)  # [B, H, L, D]
    assert all(block.attn.kv_cache is None for block in pipe.transformer.blocks)  # removed after the run


def test_a_per_head_cache_gives_the_same_tokens(pipe):
    plain = draw(pipe)
    pipe.transformer.kv_cache_factory = PerHeadCache
    try:
        per_head = draw(pipe)
    finally:
        pipe.transformer.kv_cache_factory = KVCache
    assert all(torch.equal(a, b) for a, b in zip(plain, per_head))
