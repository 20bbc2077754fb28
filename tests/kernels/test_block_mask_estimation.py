"""estimate_block_mask: budgets, forced blocks, top-p minimality, and finding planted structure."""

from __future__ import annotations

import pytest
import torch

from mmcache.kernels import BLOCK_M, BLOCK_N, block_sparse_attention, estimate_block_mask


def random_qk(seed: int, q_len: int = 640, k_len: int = 640, heads: int = 2, kv_heads: int = 2):
    torch.manual_seed(seed)
    return torch.randn(1, heads, q_len, 64), torch.randn(1, kv_heads, k_len, 64)


def test_density_one_and_top_p_one_keep_everything():
    q, k = random_qk(60, q_len=300, k_len=200)
    for kwargs in (dict(density=1.0), dict(top_p=1.0)):
        mask = estimate_block_mask(q, k, **kwargs)
        assert mask.shape == (1, 2, 3, 4) and mask.dtype == torch.bool and mask.all()


@pytest.mark.parametrize("density", [0.5, 0.25, 0.1])
def test_density_sets_the_number_of_blocks_per_row(density):
    q, k = random_qk(61)
    num_k_blocks = 640 // BLOCK_N
    mask = estimate_block_mask(q, k, density=density, always_keep_diagonal=False)
    assert (mask.sum(-1) == max(1, round(density * num_k_blocks))).all()
    with_diagonal = estimate_block_mask(q, k, density=density)
    assert (with_diagonal.sum(-1) == max(2, round(density * num_k_blocks))).all()  # 2 key blocks per query block


def test_diagonal_and_key_and_query_ranges_are_always_kept():
    q, k = random_qk(62, q_len=640, k_len=640)
    mask = estimate_block_mask(q, k, density=0.1, keep_key_ranges=[(600, 640)], keep_query_ranges=[(0, 10)])
    for i in range(mask.shape[2]):
        assert mask[:, :, i, 2 * i].all() and mask[:, :, i, 2 * i + 1].all()  # BLOCK_M = 2 * BLOCK_N
    assert mask[..., 640 // BLOCK_N - 1].all()  # the key block holding tokens 600..639
    assert mask[:, :, 0].all()  # query block 0 touches the query range: dense
    assert not mask[:, :, 1].all()


def test_planted_block_structure_is_found():
    """Query block i matches key block perm(i) strongly; a small budget must pick exactly that block."""
    torch.manual_seed(63)
    num_k_blocks = 8
    directions = torch.nn.functional.normalize(torch.randn(num_k_blocks, 64), dim=-1) * 8
    k = directions.repeat_interleave(BLOCK_N, 0)[None, None] + 0.1 * torch.randn(1, 1, num_k_blocks * BLOCK_N, 64)
    target = torch.tensor([5, 0, 7, 2])
    q = directions[target].repeat_interleave(BLOCK_M, 0)[None, None] + 0.1 * torch.randn(1, 1, 4 * BLOCK_M, 64)
    mask = estimate_block_mask(q, k, density=1 / num_k_blocks, always_keep_diagonal=False)
    assert mask[0, 0].nonzero()[:, 1].tolist() == target.tolist()
    by_mass = estimate_block_mask(q, k, top_p=0.9, always_keep_diagonal=False)
    assert torch.equal(by_mass, mask)


@pytest.mark.parametrize("top_p", [0.3, 0.6, 0.9])
def test_top_p_keeps_the_fewest_blocks_reaching_the_mass(top_p):
    q, k = random_qk(64 + int(top_p * 10))
    # a random offset per block makes the pooled scores spread, so rows need different counts
    q = q + 1.5 * torch.randn(1, 2, 640 // BLOCK_M, 64).repeat_interleave(BLOCK_M, 2)
    k = k + 1.5 * torch.randn(1, 2, 640 // BLOCK_N, 64).repeat_interleave(BLOCK_N, 2)
    mask = estimate_block_mask(q, k, top_p=top_p, always_keep_diagonal=False)
    pooled_q = q.reshape(1, 2, -1, BLOCK_M, 64).mean(3)
    pooled_k = k.reshape(1, 2, -1, BLOCK_N, 64).mean(3)
    probs = torch.softmax(pooled_q @ pooled_k.transpose(-1, -2) / 8.0, dim=-1)
    kept_mass = (probs * mask).sum(-1)
    assert (kept_mass >= top_p - 1e-6).all()
    smallest_kept = probs.masked_fill(~mask, float("inf")).amin(-1)
    assert (kept_mass - smallest_kept < top_p).all()  # dropping any kept block falls short
    assert len(set(mask.sum(-1).flatten().tolist())) > 1


def test_causal_never_keeps_blocks_above_the_diagonal_and_feeds_the_kernel():
    q, k = random_qk(65, q_len=300, k_len=300, heads=2, kv_heads=1)
    mask = estimate_block_mask(q, k, density=0.5, causal=True)
    for i in range(mask.shape[2]):
        last_query = min((i + 1) * BLOCK_M, 300) - 1
        assert not mask[..., i, last_query // BLOCK_N + 1:].any()
    out = block_sparse_attention(q.half(), k.half(), k.half(), mask, causal=True, backend="reference")
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "exactly one of density or top_p"),
        (dict(density=0.5, top_p=0.5), "exactly one of density or top_p"),
        (dict(density=0.0), "density must be in"),
        (dict(top_p=1.5), "top_p must be in"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    q, k = random_qk(66, q_len=64, k_len=64)
    with pytest.raises(ValueError, match=message):
        estimate_block_mask(q, k, **kwargs)
