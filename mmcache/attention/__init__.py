"""Attention methods: redirect a denoiser's attention calls to mmcache's kernels."""

from .sparse import SparseAttentionAttachment, attach_sparse_attention

__all__ = ["SparseAttentionAttachment", "attach_sparse_attention"]
