"""The next-scale-prediction transformer (VAR): block-causal over scales, adaLN-conditioned, KV cache per block.

The sequence is the token maps of all scales, concatenated (1 + 4 + 9 + 16 + 36 + 64 = 130 tokens for
``patch_nums`` (1, 2, 3, 4, 6, 8)). Position 0 is the start token (the condition plus ``pos_start``); the
input of scale k is the accumulated codes of scales < k, area-downsampled to scale k and embedded by
``word_embed``. Every token also gets ``pos_1LC`` (absolute position) and ``lvl_embed`` (its scale). A token
sees its own scale and every earlier one (``attn_bias_for_masking`` in a full-sequence forward; a KV cache
while sampling, see ``kv_cache.py``). The condition is the mean of ``class_emb`` over a caption's word ids
(or one class id); id ``num_conditions`` is the unconditional (CFG) one, as VAR's class ``num_classes``.

Names follow FoundationVision's VAR: ``class_emb``, ``pos_start``, ``pos_1LC``, ``lvl_embed``,
``word_embed``, ``blocks[i].attn`` (``mat_qkv``, ``q_bias``, ``v_bias``, ``proj``, ``scale_mul_1H11``),
``blocks[i].ffn`` (``fc1``, ``fc2``), ``blocks[i].ada_lin``, ``head_nm``, ``head``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .kv_cache import KVCache


class SelfAttention(nn.Module):
    """Multi-head self-attention; with ``kv_cache`` set, keys and values go through it (one scale per call)."""

    def __init__(self, block_idx: int, embed_dim: int, num_heads: int, attn_l2_norm: bool) -> None:
        super().__init__()
        self.block_idx, self.num_heads, self.head_dim = block_idx, num_heads, embed_dim // num_heads
        self.attn_l2_norm = attn_l2_norm
        if attn_l2_norm:  # cosine attention with a learned per-head temperature (at most 100)
            self.scale = 1.0
            self.scale_mul_1H11 = nn.Parameter(torch.full((1, num_heads, 1, 1), 4.0).log())
            self.max_scale_mul = math.log(100)
        else:
            self.scale = 0.25 / math.sqrt(self.head_dim)
        self.mat_qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False)
        self.q_bias, self.v_bias = nn.Parameter(torch.zeros(embed_dim)), nn.Parameter(torch.zeros(embed_dim))
        self.register_buffer("zero_k_bias", torch.zeros(embed_dim), persistent=False)
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.kv_cache: KVCache | None = None

    @property
    def cached_k(self) -> torch.Tensor | None:
        return None if self.kv_cache is None or self.kv_cache.k is None else self.kv_cache.keys_values()[0]

    @property
    def cached_v(self) -> torch.Tensor | None:
        return None if self.kv_cache is None or self.kv_cache.v is None else self.kv_cache.keys_values()[1]

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None, scale_index: int = 0) -> torch.Tensor:
        B, L, C = x.shape
        bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
        q, k, v = F.linear(x, self.mat_qkv.weight, bias).view(B, L, 3, self.num_heads, self.head_dim).permute(
            2, 0, 3, 1, 4).unbind(0)  # [B, H, L, D] each
        if self.attn_l2_norm:
            q = F.normalize(q, dim=-1) * self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp()
            k = F.normalize(k, dim=-1)
        if self.kv_cache is not None:
            out = self.kv_cache.attend(q, k, v, scale=scale_index, softmax_scale=self.scale)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, scale=self.scale)
        return self.proj(out.transpose(1, 2).reshape(B, L, C))


class FFN(nn.Module):
    def __init__(self, embed_dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(embed_dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class AdaLNSelfAttn(nn.Module):
    """One block: attention and FFN, each after a LayerNorm scaled, shifted and gated by the condition."""

    def __init__(self, block_idx: int, embed_dim: int, num_heads: int, mlp_ratio: float, attn_l2_norm: bool) -> None:
        super().__init__()
        self.C = embed_dim
        self.attn = SelfAttention(block_idx, embed_dim, num_heads, attn_l2_norm)
        self.ffn = FFN(embed_dim, round(embed_dim * mlp_ratio))
        self.ln_wo_grad = nn.LayerNorm(embed_dim, eps=1e-6, elementwise_affine=False)
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(embed_dim, 6 * embed_dim))

    def forward(self, x: torch.Tensor, cond_BD: torch.Tensor, attn_bias: torch.Tensor | None,
                scale_index: int = 0) -> torch.Tensor:
        gamma1, gamma2, scale1, scale2, shift1, shift2 = self.ada_lin(cond_BD).view(-1, 1, 6, self.C).unbind(2)
        x = x + self.attn(self.ln_wo_grad(x) * (scale1 + 1) + shift1, attn_bias, scale_index) * gamma1
        return x + self.ffn(self.ln_wo_grad(x) * (scale2 + 1) + shift2) * gamma2


class AdaLNBeforeHead(nn.Module):
    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.C = embed_dim
        self.ln_wo_grad = nn.LayerNorm(embed_dim, eps=1e-6, elementwise_affine=False)
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(embed_dim, 2 * embed_dim))

    def forward(self, x: torch.Tensor, cond_BD: torch.Tensor) -> torch.Tensor:
        scale, shift = self.ada_lin(cond_BD).view(-1, 1, 2, self.C).unbind(2)
        return self.ln_wo_grad(x) * (scale + 1) + shift


class VARTransformer(ModelMixin, ConfigMixin):
    """Logits over the codebook for every token of every scale, given the condition and the coarser scales."""

    @register_to_config
    def __init__(self, vocab_size: int = 256, z_channels: int = 16, patch_nums: tuple[int, ...] = (1, 2, 3, 4, 6, 8),
                 depth: int = 6, embed_dim: int = 256, num_heads: int = 8, mlp_ratio: float = 4.0,
                 attn_l2_norm: bool = True, condition_words: list[str] | None = None, num_classes: int = 0) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be a multiple of num_heads {num_heads}.")
        if bool(condition_words) == bool(num_classes):
            raise ValueError("Give either condition_words (text-conditioned) or num_classes (class-conditioned).")
        self.patch_nums = tuple(patch_nums)
        self.num_conditions = len(condition_words) if condition_words else num_classes
        self.L = sum(pn * pn for pn in self.patch_nums)
        self.first_l = self.patch_nums[0] ** 2
        ends = torch.tensor([pn * pn for pn in self.patch_nums]).cumsum(0).tolist()
        self.begin_ends = list(zip([0] + ends[:-1], ends))
        init_std = math.sqrt(1 / embed_dim / 3)
        self.class_emb = nn.Embedding(self.num_conditions + 1, embed_dim)
        self.pos_start = nn.Parameter(torch.randn(1, self.first_l, embed_dim) * init_std)
        self.pos_1LC = nn.Parameter(torch.randn(1, self.L, embed_dim) * init_std)
        self.lvl_embed = nn.Embedding(len(self.patch_nums), embed_dim)
        self.word_embed = nn.Linear(z_channels, embed_dim)
        self.blocks = nn.ModuleList(AdaLNSelfAttn(i, embed_dim, num_heads, mlp_ratio, attn_l2_norm) for i in range(depth))
        self.head_nm = AdaLNBeforeHead(embed_dim)
        self.head = nn.Linear(embed_dim, vocab_size)
        levels = torch.cat([torch.full((pn * pn,), i) for i, pn in enumerate(self.patch_nums)])
        self.register_buffer("lvl_1L", levels.view(1, self.L), persistent=False)
        mask = torch.where(levels[:, None] >= levels[None, :], 0.0, -torch.inf)
        self.register_buffer("attn_bias_for_masking", mask.view(1, 1, self.L, self.L), persistent=False)
        self.kv_cache_factory: Callable[[int], KVCache] = KVCache
        self._init_weights(init_std)

    @torch.no_grad()
    def _init_weights(self, std: float, init_adaln: float = 0.5, init_adaln_gamma: float = 1e-5) -> None:
        """VAR's initialisation: small truncated normals, residual branches scaled down, gates near zero."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.trunc_normal_(module.weight, std=std)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
        self.head.weight.mul_(0.02)
        self.head_nm.ada_lin[-1].weight.mul_(init_adaln)
        for block in self.blocks:
            block.attn.proj.weight.div_(math.sqrt(2 * len(self.blocks)))
            block.ffn.fc2.weight.div_(math.sqrt(2 * len(self.blocks)))
            block.ada_lin[-1].weight[2 * block.C:].mul_(init_adaln)
            block.ada_lin[-1].weight[: 2 * block.C].mul_(init_adaln_gamma)

    @property
    def null_condition(self) -> int:
        """The condition id of the unconditional branch."""
        return self.num_conditions

    def condition(self, ids: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` condition ids (``-1`` pads a shorter caption) → ``[B, C]``: the mean of their embeddings."""
        valid = (ids >= 0).unsqueeze(-1).to(self.class_emb.weight.dtype)
        return (self.class_emb(ids.clamp_min(0)) * valid).sum(1) / valid.sum(1).clamp_min(1)

    def lvl_pos(self) -> torch.Tensor:
        return self.lvl_embed(self.lvl_1L) + self.pos_1LC

    def first_scale_input(self, cond_BD: torch.Tensor) -> torch.Tensor:
        """The start tokens ``[B, first_l, C]``: the condition, ``pos_start`` and the first scale's positions."""
        sos = cond_BD.unsqueeze(1).expand(-1, self.first_l, -1) + self.pos_start
        return sos + self.lvl_pos()[:, : self.first_l]

    def scale_input(self, next_map: torch.Tensor, si: int) -> torch.Tensor:
        """Scale ``si``'s input ``[B, pn², C]`` from the accumulated codes at its size (``[B, z, pn, pn]``)."""
        begin, end = self.begin_ends[si]
        return self.word_embed(next_map.flatten(2).transpose(1, 2)) + self.lvl_pos()[:, begin:end]

    def logits(self, x: torch.Tensor, cond_BD: torch.Tensor, attn_bias: torch.Tensor | None,
               scale_index: int = 0) -> torch.Tensor:
        """Runs the blocks and the head over ``x`` (one scale with the KV cache on, or the whole sequence)."""
        for block in self.blocks:
            x = block(x, cond_BD, attn_bias, scale_index)
        return self.head(self.head_nm(x, cond_BD)).float()

    def forward(self, condition_ids: torch.Tensor, x_BLCv_wo_first_l: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``[B, L, V]`` of every scale, block-causal (training, and the uncached reference).

        ``x_BLCv_wo_first_l``: the accumulated codes of the coarser scales at each later scale's size, flattened,
        ``[B, L − first_l, z]`` (``MultiScaleQuantizer.teacher_forcing_input``).
        """
        cond_BD = self.condition(condition_ids)
        sos = cond_BD.unsqueeze(1).expand(-1, self.first_l, -1) + self.pos_start
        x = torch.cat((sos, self.word_embed(x_BLCv_wo_first_l)), dim=1) + self.lvl_pos()
        return self.logits(x, cond_BD, self.attn_bias_for_masking.to(x.dtype))

    @contextlib.contextmanager
    def kv_caching(self) -> Iterator[list[KVCache]]:
        """Gives every block's attention a fresh cache from ``kv_cache_factory`` for one sampling run."""
        caches = [self.kv_cache_factory(index) for index in range(len(self.blocks))]
        for block, cache in zip(self.blocks, caches):
            block.attn.kv_cache = cache
        try:
            yield caches
        finally:
            for block in self.blocks:
                block.attn.kv_cache = None
