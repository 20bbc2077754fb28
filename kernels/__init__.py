"""Triton kernels for sparse and quantized attention, each with a float32 PyTorch reference.

Every entry point takes ``backend="auto" | "triton" | "reference"``: ``auto`` runs Triton on CUDA
tensors and the reference elsewhere; ``triton`` on CPU tensors needs ``TRITON_INTERPRET=1`` set
before this package is imported. See docs/KERNELS.md.

* ``block_sparse_attention``: FlashAttention over the live (BLOCK_M x BLOCK_N) blocks of a mask.
* ``estimate_block_mask``: such a mask from mean-pooled q/k blocks (density or top-p).
* ``token_subset_attention``: attention among the kept tokens, gather/scatter fused.
* ``quantize_kv`` / ``dequantize_kv`` / ``quantize_kv_mixed``: 2/4-bit packed KV (``QuantizedKV``).
* ``quantized_decode_attention``: split-K decode over packed KV segments, dequantized on the fly.
"""

from .block_mask_estimation import estimate_block_mask
from .block_sizes import BLOCK_M, BLOCK_N, SUPPORTED_HEAD_DIMS
from .dispatch import BACKENDS
from .block_sparse_attention import block_sparse_attention, block_sparse_attention_reference
from .kv_quantization import QuantizedKV, dequantize_kv, quantize_kv, quantize_kv_mixed, split_by_importance
from .live_blocks import LiveBlocks, compact_block_mask
from .quantized_decode_attention import quantized_decode_attention, quantized_decode_attention_reference
from .token_subset_attention import token_subset_attention, token_subset_attention_reference
from .triton_compat import HAS_TRITON

__all__ = [
    "BACKENDS",
    "BLOCK_M",
    "BLOCK_N",
    "HAS_TRITON",
    "SUPPORTED_HEAD_DIMS",
    "LiveBlocks",
    "QuantizedKV",
    "block_sparse_attention",
    "block_sparse_attention_reference",
    "compact_block_mask",
    "dequantize_kv",
    "estimate_block_mask",
    "quantize_kv",
    "quantize_kv_mixed",
    "quantized_decode_attention",
    "quantized_decode_attention_reference",
    "split_by_importance",
    "token_subset_attention",
    "token_subset_attention_reference",
]
