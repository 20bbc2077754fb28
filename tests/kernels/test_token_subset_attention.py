"""token_subset_attention (Triton in the interpreter, and the reference) against a float64 oracle."""

from __future__ import annotations

import pytest
import torch
from kernel_oracle import TOLERANCE, attention_oracle, poisoned_empty_like, relative_error

from mmcache.kernels import token_subset_attention


def random_problem(seed: int, batch: int, heads: int, kv_heads: int, length: int, kept: int, dtype: torch.dtype,
                   shared: bool):
    torch.manual_seed(seed)
    q = torch.randn(batch, heads, length, 64, dtype=dtype)
    k = torch.randn(batch, kv_heads, length, 64, dtype=dtype)
    v = torch.randn(batch, kv_heads, length, 64, dtype=dtype)
    keep = torch.rand(batch, 1 if shared else heads, length).argsort(dim=-1)[..., :kept].sort(dim=-1).values
    return q, k, v, keep


def oracle(q, k, v, keep, causal, all_queries, fill):
    """Kept keys (and causal by position); kept rows (or all) computed, the others from ``fill``."""
    batch, heads, length, _ = q.shape
    is_kept = torch.zeros(batch, heads, length, dtype=torch.bool)
    for b in range(batch):
        for h in range(heads):
            is_kept[b, h, keep[b, h if keep.shape[1] > 1 else 0]] = True
    allowed = is_kept[:, :, None, :].expand(batch, heads, length, length)
    if causal:
        allowed = allowed & (torch.arange(length)[None, :] <= torch.arange(length)[:, None])
    dense, _ = attention_oracle(q, k, v, allowed)
    computed = torch.ones_like(is_kept) if all_queries else is_kept
    other = fill.double() if fill is not None else torch.zeros_like(dense)
    return torch.where(computed[..., None], dense, other), computed


CASES = [  # seed, batch, heads, kv_heads, length, kept, dtype, causal, all_queries, shared, with_fill
    (21, 2, 2, 2, 300, 170, torch.bfloat16, False, False, False, True),
    (22, 1, 4, 2, 300, 200, torch.float16, True, False, True, False),  # GQA, indices shared by heads
    (23, 2, 2, 1, 257, 100, torch.bfloat16, True, True, False, False),
    (24, 1, 2, 2, 200, 150, torch.float16, False, True, True, False),
    (25, 1, 2, 2, 40, 1, torch.float16, True, False, False, True),
    (26, 1, 2, 2, 130, 130, torch.bfloat16, True, False, False, False),  # everything kept = causal attention
]


@pytest.mark.parametrize("backend", ["triton", "reference"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-N{c[4]}-K{c[5]}-causal{c[7]}-all{c[8]}")
def test_matches_float64_oracle(case, backend):
    seed, batch, heads, kv_heads, length, kept, dtype, causal, all_queries, shared, with_fill = case
    q, k, v, keep = random_problem(seed, batch, heads, kv_heads, length, kept, dtype, shared)
    fill = torch.randn_like(q) if with_fill else None
    out = token_subset_attention(q, k, v, keep, causal=causal, all_queries=all_queries, fill=fill, backend=backend)
    ref, computed = oracle(q, k, v, keep, causal, all_queries, fill)
    assert out.dtype == dtype and out.shape == q.shape
    assert relative_error(out, ref) < TOLERANCE[dtype]
    untouched = ~computed
    assert torch.equal(out[untouched], (fill if with_fill else torch.zeros_like(q))[untouched])


def test_tokens_not_kept_are_never_read():
    q, k, v, keep = random_problem(27, 1, 2, 2, 260, 90, torch.float16, shared=True)
    ref, _ = oracle(q, k, v, keep, causal=True, all_queries=False, fill=None)
    dropped = torch.ones(260, dtype=torch.bool)
    dropped[keep[0, 0]] = False
    poisoned = [t.clone() for t in (q, k, v)]
    for t in poisoned:
        t[:, :, dropped] = float("nan")
    out = token_subset_attention(*poisoned, keep, causal=True, backend="triton")
    assert torch.isfinite(out).all()
    assert relative_error(out, ref) < TOLERANCE[torch.float16]


def test_all_queries_writes_every_row_and_early_queries_get_zero(monkeypatch):
    q, k, v, _ = random_problem(28, 1, 2, 2, 200, 50, torch.bfloat16, shared=False)
    keep = 30 + torch.rand(1, 2, 170).argsort(dim=-1)[..., :50].sort(dim=-1).values  # nothing kept before 30
    keep[:, :, 0] = 30
    poisoned_empty_like(monkeypatch)
    out = token_subset_attention(q, k, v, keep, causal=True, all_queries=True, backend="triton")
    assert not torch.isnan(out).any()
    assert (out[:, :, :30] == 0).all()
    ref, _ = oracle(q, k, v, keep, causal=True, all_queries=True, fill=None)
    assert relative_error(out, ref) < TOLERANCE[torch.bfloat16]


@pytest.mark.parametrize(
    "bad_keep, message",
    [
        (torch.tensor([[[3, 2, 5]]]), "strictly increasing"),
        (torch.tensor([[[1, 2, 1000]]]), "strictly increasing positions in"),
        (torch.tensor([[[-1, 2, 3]]]), "strictly increasing positions in"),
        (torch.tensor([[[1.0, 2.0]]]), "int64"),
        (torch.tensor([[1, 2]]), "shape"),
    ],
)
def test_bad_indices_are_refused(bad_keep, message):
    q, k, v, _ = random_problem(29, 1, 2, 2, 64, 8, torch.float16, shared=True)
    with pytest.raises((ValueError, TypeError), match=message):
        token_subset_attention(q, k, v, bad_keep, backend="reference")


def test_fill_must_match_q():
    q, k, v, keep = random_problem(30, 1, 2, 2, 64, 8, torch.float16, shared=True)
    with pytest.raises(ValueError, match="fill must have q's shape"):
        token_subset_attention(q, k, v, keep, fill=torch.zeros(1, 2, 63, 64), backend="reference")
