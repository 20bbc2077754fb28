"""Block-sparse self-attention for video DiTs: config, per-module router, attachment.

For every layer, head and step, key blocks are ranked per query block by the softmax of
mean-pooled query and key blocks (``mmcache.kernels.estimate_block_mask``); the kept blocks run
through ``block_sparse_attention``. The denoiser's own attention processors compute projections,
norms and rotary embeddings; only their attention call is redirected (``hooks.attention``).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, Callable, ClassVar

import torch

from ..errors import ConfigError
from ..hooks.attention import redirect, restore, self_attention_modules
from .base import MethodConfig, is_number, require

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
        if self.density is None and self.top_p is None:
            self.density = DEFAULT_DENSITY
        super().__post_init__()

    def coerce(self, name: str, value: Any) -> Any:
        return tuple(value) if name == "dense_layers" and isinstance(value, list) else value

    def validate(self) -> None:
        from mmcache.kernels import BACKENDS, BLOCK_M, BLOCK_N  # kernels load lazily (TRITON_INTERPRET is read then)

        require(self.density is None or self.top_p is None,
                "SparseAttentionConfig takes one of density and top_p, not both.")
        if self.density is not None:
            require(is_number(self.density) and 0 < self.density <= 1,
                    f"SparseAttentionConfig.density must be in (0, 1], got {self.density!r}.")
        if self.top_p is not None:
            require(is_number(self.top_p) and 0 < self.top_p <= 1,
                    f"SparseAttentionConfig.top_p must be in (0, 1], got {self.top_p!r}.")
        require(isinstance(self.block_size, int) and not isinstance(self.block_size, bool) and self.block_size > 0
                and self.block_size % BLOCK_M == 0 and self.block_size % BLOCK_N == 0,
                f"SparseAttentionConfig.block_size must be a positive multiple of the kernel blocks "
                f"({BLOCK_M} query rows, {BLOCK_N} keys), got {self.block_size!r}.")
        require(isinstance(self.dense_steps, int) and not isinstance(self.dense_steps, bool) and self.dense_steps >= 0,
                f"SparseAttentionConfig.dense_steps must be an integer >= 0, got {self.dense_steps!r}.")
        require(isinstance(self.dense_layers, tuple) and all(isinstance(i, int) and i >= 0 for i in self.dense_layers),
                f"SparseAttentionConfig.dense_layers must be block indices, got {self.dense_layers!r}.")
        require(self.backend in BACKENDS, f"SparseAttentionConfig.backend must be one of {BACKENDS}.")

    def attach(self, target: Any, controller: Any) -> "SparseAttentionAttachment":
        return attach_sparse_attention(self, target, controller)


@dataclasses.dataclass
class AttentionCounts:
    """How the attention calls of an enabled pipeline ran: sparse, or dense and why."""

    sparse_calls: int = 0
    kept_block_fraction_sum: float = 0.0
    dense_calls: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    @property
    def mean_density(self) -> float | None:
        """Mean fraction of (query block, key block) pairs computed in the sparse calls."""
        return self.kept_block_fraction_sum / self.sparse_calls if self.sparse_calls else None

    def as_dict(self) -> dict[str, Any]:
        return {"sparse_calls": self.sparse_calls, "mean_density": self.mean_density,
                "dense_calls": dict(self.dense_calls)}


def valid_key_prefix(attn_mask: Any, k_len: int) -> int | None:
    """If ``attn_mask`` only hides a padded tail of the keys (the same for every row), the valid length.

    This is the shape of HunyuanVideo's text-padding mask (bool ``[B, 1, 1, N]``); any other mask
    returns ``None`` and the call runs dense.
    """
    if not isinstance(attn_mask, torch.Tensor) or attn_mask.dtype != torch.bool or attn_mask.shape[-1] != k_len:
        return None
    if attn_mask.ndim != 4 or attn_mask.shape[1] != 1 or attn_mask.shape[2] != 1:
        return None
    rows = attn_mask.reshape(attn_mask.shape[0], k_len)
    length = int(rows[0].sum())
    expected = torch.arange(k_len, device=rows.device) < length
    return length if length > 0 and bool((rows == expected).all()) else None


def expand_mask(mask: torch.Tensor, block_size: int, block_m: int, block_n: int, q_len: int, k_len: int) -> torch.Tensor:
    """A mask estimated on ``block_size`` tiles, at the kernel's (block_m, block_n) granularity."""
    rows, cols = -(-q_len // block_m), -(-k_len // block_n)
    mask = mask.repeat_interleave(block_size // block_m, dim=2).repeat_interleave(block_size // block_n, dim=3)
    return mask[..., :rows, :cols].contiguous()


class SparseAttentionRouter:
    """Block-sparse attention for one self-attention module of the denoiser (see ``redirect``)."""

    def __init__(self, config: SparseAttentionConfig, controller: Any, layer: int, joint_text: str | None,
                 counts: AttentionCounts) -> None:
        self.config = config
        self.controller = controller
        self.layer = layer
        self.joint_text = joint_text
        self.counts = counts

    # -- the two calling conventions ------------------------------------------------------------
    def dispatch(self, original: Callable[..., torch.Tensor], query: torch.Tensor, key: torch.Tensor,
                 value: torch.Tensor, attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                 is_causal: bool = False, scale: float | None = None, *args: Any, **kwargs: Any) -> torch.Tensor:
        """diffusers' ``dispatch_attention_fn``: [B, S, H, D] tensors."""
        valid = valid_key_prefix(attn_mask, key.shape[1]) if attn_mask is not None else None
        reason = self._dense_reason(query.shape[1], key.shape[1], attn_mask if valid is None else None, dropout_p,
                                    is_causal, kwargs.get("parallel_config"))
        if reason:
            self.counts.dense_calls[reason] += 1
            return original(query, key, value, attn_mask, dropout_p, is_causal, scale, *args, **kwargs)
        out = self._sparse(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), scale, valid)
        return out.transpose(1, 2)

    def sdpa(self, original: Callable[..., torch.Tensor], query: torch.Tensor, key: torch.Tensor,
             value: torch.Tensor, attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
             is_causal: bool = False, scale: float | None = None, **kwargs: Any) -> torch.Tensor:
        """``F.scaled_dot_product_attention``: [B, H, S, D] tensors."""
        valid = valid_key_prefix(attn_mask, key.shape[2]) if attn_mask is not None else None
        reason = self._dense_reason(query.shape[2], key.shape[2], attn_mask if valid is None else None, dropout_p,
                                    is_causal, None)
        if reason:
            self.counts.dense_calls[reason] += 1
            return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                            scale=scale, **kwargs)
        return self._sparse(query, key, value, scale, valid)

    # -- decisions ------------------------------------------------------------------------------
    def _dense_reason(self, q_len: int, k_len: int, attn_mask: Any, dropout_p: float, is_causal: bool,
                      parallel_config: Any) -> str:
        current = self.controller.current
        if attn_mask is not None:
            return "attention mask (the kernel has no per-token mask)"
        if dropout_p:
            return "dropout"
        if is_causal:
            return "causal"
        if parallel_config is not None:
            return "context parallelism"
        if q_len != k_len:
            return "cross-attention"
        if self.layer in self.config.dense_layers:
            return "dense layer"
        if current is not None and current.info.step < self.config.dense_steps:
            return "dense step"
        if q_len <= self.config.block_size:
            return "sequence of one block"
        return ""

    def _text_ranges(self, length: int) -> list[tuple[int, int]] | None:
        if self.joint_text is None or self.controller.current is None:
            return None
        text = self.controller.current.kwargs.get("encoder_hidden_states")
        if not isinstance(text, torch.Tensor):
            return None
        tokens = min(int(text.shape[1]), length)
        return [(0, tokens)] if self.joint_text == "prefix" else [(length - tokens, length)]

    def _sparse(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None,
                valid_keys: int | None = None) -> torch.Tensor:
        """Estimate the block mask on the full (aligned) sequence, then attend over the valid keys."""
        from mmcache.kernels import BLOCK_M, BLOCK_N, SUPPORTED_HEAD_DIMS, block_sparse_attention, estimate_block_mask

        if q.dtype not in (torch.float16, torch.bfloat16):
            raise ConfigError(f"Sparse attention needs float16 or bfloat16 activations, got {q.dtype}: load the "
                              "pipeline with torch_dtype=torch.bfloat16 (or float16).")
        if q.shape[-1] not in SUPPORTED_HEAD_DIMS:
            raise ConfigError(f"Sparse attention supports head dims {SUPPORTED_HEAD_DIMS}, this model has "
                              f"{q.shape[-1]}.")
        ranges = self._text_ranges(q.shape[2])
        size = self.config.block_size
        mask = estimate_block_mask(q, k, density=self.config.density, top_p=self.config.top_p, block_m=size,
                                   block_n=size, keep_key_ranges=ranges, keep_query_ranges=ranges)
        self.counts.sparse_calls += 1
        self.counts.kept_block_fraction_sum += float(mask.float().mean())
        if size != BLOCK_M or size != BLOCK_N:
            mask = expand_mask(mask, size, BLOCK_M, BLOCK_N, q.shape[2], k.shape[2])
        if valid_keys is not None and valid_keys < k.shape[2]:
            k, v = k[:, :, :valid_keys], v[:, :, :valid_keys]
            mask = mask[..., : -(-valid_keys // BLOCK_N)].contiguous()
        return block_sparse_attention(q, k, v, mask, scale=scale, backend=self.config.backend)


class SparseAttentionAttachment:
    """The redirected attention modules of one enabled pipeline; ``detach`` restores them."""

    def __init__(self, modules: list[torch.nn.Module], counts: AttentionCounts) -> None:
        self.modules = modules
        self.counts = counts

    def detach(self) -> None:
        for module in self.modules:
            restore(module)

    def stats(self) -> dict[str, Any]:
        return {"method": "sparse_attention", **self.counts.as_dict()}


def attach_sparse_attention(config: SparseAttentionConfig, resolved: Any, controller: Any) -> SparseAttentionAttachment:
    """Redirect every self-attention module the adapter names to a ``SparseAttentionRouter``."""
    adapter = resolved.adapter
    if not adapter.self_attention:
        raise ConfigError(f"Sparse attention is not available for the {adapter.name} family: its adapter names no "
                          "self-attention modules.")
    counts = AttentionCounts()
    modules: list[torch.nn.Module] = []
    try:
        for denoiser in resolved.denoisers:
            for layer, module in self_attention_modules(adapter, denoiser):
                redirect(module, SparseAttentionRouter(config, controller, layer, adapter.joint_text, counts))
                modules.append(module)
    except Exception:
        for module in modules:
            restore(module)
        raise
    if not modules:
        raise ConfigError(f"No self-attention module found in the {adapter.name} denoiser.")
    return SparseAttentionAttachment(modules, counts)
