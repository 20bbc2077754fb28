"""Configuration of block-sparse self-attention for video DiTs."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from .base import MethodConfig, require

BACKENDS = ("auto", "triton", "reference")
DEFAULT_DENSITY = 0.5


@dataclasses.dataclass
class SparseAttentionConfig(MethodConfig):
    """Replace the denoiser's self-attention with ``block_sparse_attention`` over important blocks.

    For every layer, head and step, key blocks are ranked per query block by the softmax of
    mean-pooled query and key blocks; the top ones are kept. Diagonal blocks and, in joint
    text-video attention, text blocks (as keys and as queries) are always kept.

    Args:
        density: fraction of key blocks each query block keeps (1.0: dense, to rounding); the
            default when neither density nor top_p is given is 0.5.
        top_p: instead of ``density``, keep the fewest blocks holding this share of the estimated
            attention mass.
        block_size: token granularity of the importance estimate; a multiple of the kernel's
            ``BLOCK_M`` and ``BLOCK_N`` (coarser is cheaper to estimate).
        dense_steps: the first denoising steps run dense attention (their layout changes most).
        dense_layers: block indices that always run dense.
        backend: kernel backend, ``"auto"`` (Triton on CUDA, the PyTorch reference elsewhere),
            ``"triton"`` or ``"reference"``.
    """

    method: ClassVar[str] = "sparse_attention"
    role: ClassVar[str] = "attention"

    density: float | None = None
    top_p: float | None = None
    block_size: int = 128
    dense_steps: int = 0
    dense_layers: tuple[int, ...] = ()
    backend: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.dense_layers, list):
            self.dense_layers = tuple(self.dense_layers)
        if self.density is None and self.top_p is None:
            self.density = DEFAULT_DENSITY
        super().__post_init__()

    def validate(self) -> None:
        from mmcache.kernels import BLOCK_M as block_m
        from mmcache.kernels import BLOCK_N as block_n

        require(self.density is None or self.top_p is None,
                "SparseAttentionConfig takes one of density and top_p, not both.")
        if self.density is not None:
            require(isinstance(self.density, (int, float)) and 0 < self.density <= 1,
                    f"SparseAttentionConfig.density must be in (0, 1], got {self.density!r}.")
        if self.top_p is not None:
            require(isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1,
                    f"SparseAttentionConfig.top_p must be in (0, 1], got {self.top_p!r}.")
        require(isinstance(self.block_size, int) and self.block_size > 0
                and self.block_size % block_m == 0 and self.block_size % block_n == 0,
                f"SparseAttentionConfig.block_size must be a positive multiple of the kernel blocks "
                f"({block_m} query rows, {block_n} keys), got {self.block_size!r}.")
        require(isinstance(self.dense_steps, int) and self.dense_steps >= 0,
                f"SparseAttentionConfig.dense_steps must be an integer >= 0, got {self.dense_steps!r}.")
        require(isinstance(self.dense_layers, tuple) and all(isinstance(i, int) and i >= 0 for i in self.dense_layers),
                f"SparseAttentionConfig.dense_layers must be block indices, got {self.dense_layers!r}.")
        require(self.backend in BACKENDS, f"SparseAttentionConfig.backend must be one of {BACKENDS}.")
