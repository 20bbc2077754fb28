"""Architectures of toy-var and of the tiny random ``tiny:var``, and toy-var's call defaults."""

from __future__ import annotations

from typing import Any

import torch

from .captions import WORDS
from .pipeline import VARPipeline
from .transformer import VARTransformer
from .vqvae import MultiScaleVQVAE

PATCH_NUMS = (1, 2, 3, 4, 6, 8)  # 130 tokens per 64×64 image
TOY_TOKENIZER: dict[str, Any] = {"channels": (32, 64, 128), "num_res_blocks": 1, "z_channels": 16,
                                 "vocab_size": 256, "patch_nums": PATCH_NUMS}
TOY_TRANSFORMER: dict[str, Any] = {"depth": 6, "embed_dim": 256, "num_heads": 8, "mlp_ratio": 4.0}
# 16×16 images: two 2× downsamplings, scales 1, 2, 4 (21 tokens)
TINY_TOKENIZER: dict[str, Any] = {"channels": (8, 8), "num_res_blocks": 1, "z_channels": 4, "vocab_size": 16,
                                  "patch_nums": (1, 2, 4)}
TINY_TRANSFORMER: dict[str, Any] = {"depth": 2, "embed_dim": 32, "num_heads": 4, "mlp_ratio": 2.0}
TOY_DEFAULTS: dict[str, Any] = {"guidance_scale": 3.0, "top_k": 0, "top_p": 0.0, "guidance_ramp": False}


def build_transformer(tokenizer: MultiScaleVQVAE, **architecture: Any) -> VARTransformer:
    """A fresh text-conditioned transformer over ``tokenizer``'s codebook and scales, on the caption words."""
    config = tokenizer.config
    return VARTransformer(vocab_size=config.vocab_size, z_channels=config.z_channels,
                          patch_nums=tuple(config.patch_nums), condition_words=list(WORDS), **architecture)


def build_tiny_var(seed: int = 0, **sizes: Any) -> VARPipeline:
    """A random-weight VARPipeline of a few thousand parameters (16×16 images), for tests. Its weights are
    noised away from VAR's initialisation (gates near zero, a tiny codebook), so every block and code matters.
    ``sizes`` override the tokenizer's ``patch_nums`` or the transformer's sizes (e.g. ``depth``)."""
    torch.manual_seed(seed)
    tokenizer = MultiScaleVQVAE(**{**TINY_TOKENIZER, **{k: v for k, v in sizes.items() if k in TINY_TOKENIZER}})
    transformer = {**TINY_TRANSFORMER, **{k: v for k, v in sizes.items() if k not in TINY_TOKENIZER}}
    pipe = VARPipeline(tokenizer, build_transformer(tokenizer, **transformer))
    with torch.no_grad():
        for parameter in pipe.transformer.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
        tokenizer.quantize.embedding.weight.normal_()
    pipe.set_progress_bar_config(disable=True)
    return pipe
