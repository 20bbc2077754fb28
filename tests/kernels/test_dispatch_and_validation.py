"""Backend choice and the one-clear-error-per-problem input checks."""

from __future__ import annotations

import pytest
import torch

from mmcache.kernels import block_sparse_attention, token_subset_attention
from mmcache.kernels.block_sparse_attention import _block_sparse_attention_kernel
from mmcache.kernels.dispatch import choose_backend


def qkv(heads=2, kv_heads=2, q_len=100, k_len=100, dim=64, dtype=torch.float16):
    return (torch.randn(1, heads, q_len, dim, dtype=dtype), torch.randn(1, kv_heads, k_len, dim, dtype=dtype),
            torch.randn(1, kv_heads, k_len, dim, dtype=dtype))


def full_mask(heads=2, q_blocks=1, k_blocks=2):
    return torch.ones(1, heads, q_blocks, k_blocks, dtype=torch.bool)


def test_auto_uses_the_reference_on_cpu_and_triton_when_asked():
    q, _, _ = qkv()
    kernels = [_block_sparse_attention_kernel]
    assert choose_backend("auto", [q], kernels) == "reference"
    assert choose_backend("reference", [q], kernels) == "reference"
    assert choose_backend("triton", [q], kernels) == "triton"  # tests run with TRITON_INTERPRET=1


def test_triton_on_cpu_without_the_interpreter_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        block_sparse_attention(*qkv(), full_mask(), backend="triton")


def test_interpreter_switched_on_after_import_is_detected():
    q, _, _ = qkv()
    compiled_for_gpu = object()  # stands for a kernel decorated without TRITON_INTERPRET
    with pytest.raises(RuntimeError, match="set after mmcache.kernels was imported"):
        choose_backend("triton", [q], [compiled_for_gpu])


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        block_sparse_attention(*qkv(), full_mask(), backend="cuda")


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: (*qkv()[:2], qkv()[2][0], full_mask()), ValueError, r"v must have shape \[B, H, N, D\]"),
        (lambda: (*qkv(dtype=torch.float32), full_mask()), TypeError, "float16 or bfloat16"),
        (lambda: (qkv()[0], *qkv(dtype=torch.bfloat16)[1:], full_mask()), TypeError, "share one dtype"),
        (lambda: (*qkv(dim=96), full_mask()), ValueError, "D=96 is not supported"),
        (lambda: (*qkv(heads=3, kv_heads=2), full_mask(heads=3)), ValueError, "multiple of the number of k/v heads"),
        (lambda: (qkv()[0], qkv()[1], qkv(k_len=99)[2], full_mask()), ValueError, "same shape"),
        (lambda: (qkv()[0], *qkv(dim=32)[1:], full_mask()), ValueError, "head dim 64 but k/v have 32"),
        (lambda: (*qkv(), full_mask(k_blocks=3)), ValueError, r"block_mask must have shape .* = \[1, 2, 1, 2\]"),
        (lambda: (*qkv(), full_mask().int()), TypeError, "block_mask must be a bool tensor"),
        (lambda: (*qkv(), full_mask().to("meta")), ValueError, "same device"),
    ],
)
@pytest.mark.parametrize("backend", ["triton", "reference"])
def test_block_sparse_input_errors(make, error, message, backend):
    with pytest.raises(error, match=message):
        block_sparse_attention(*make(), backend=backend)


def test_bad_scale_is_refused():
    with pytest.raises(ValueError, match="scale must be a positive number"):
        block_sparse_attention(*qkv(), full_mask(), scale=-1.0, backend="reference")


def test_token_subset_needs_self_attention_lengths():
    q, k, v = qkv(q_len=100, k_len=120)
    with pytest.raises(ValueError, match="self-attention"):
        token_subset_attention(q, k, v, torch.arange(10)[None, None], backend="reference")
