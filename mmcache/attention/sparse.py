"""Attach block-sparse self-attention to every self-attention module of the denoisers."""

from __future__ import annotations

from typing import Any

import torch

from ..config.sparse_attention import SparseAttentionConfig
from ..errors import ConfigError
from . import redirect
from .router import AttentionCounts, SparseAttentionRouter


class SparseAttentionAttachment:
    """The redirected attention modules of one enabled pipeline; ``detach`` restores them."""

    def __init__(self, modules: list[torch.nn.Module], counts: AttentionCounts) -> None:
        self.modules = modules
        self.counts = counts

    def detach(self) -> None:
        for module in self.modules:
            redirect.restore(module)

    def stats(self) -> dict[str, Any]:
        return {"method": "sparse_attention", **self.counts.as_dict()}


def self_attention_modules(adapter: Any, denoiser: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
    """(block index, module) for every self/joint attention module named by the adapter."""
    found = []
    for index, block in enumerate(adapter.blocks(denoiser)):
        for name in adapter.self_attention:
            module = getattr(block, name, None)
            if module is not None and hasattr(module, "processor"):
                found.append((index, module))
    return found


def attach_sparse_attention(config: SparseAttentionConfig, resolved: Any, session: Any) -> SparseAttentionAttachment:
    adapter = resolved.adapter
    if not adapter.self_attention:
        raise ConfigError(f"Sparse attention is not available for the {adapter.name} family: its adapter names no "
                          "self-attention modules.")
    counts = AttentionCounts()
    modules: list[torch.nn.Module] = []
    try:
        for denoiser in resolved.denoisers:
            for layer, module in self_attention_modules(adapter, denoiser):
                redirect.redirect(module, SparseAttentionRouter(config, session, layer, adapter.joint_text, counts))
                modules.append(module)
    except Exception:
        for module in modules:
            redirect.restore(module)
        raise
    if not modules:
        raise ConfigError(f"No self-attention module found in the {adapter.name} denoiser.")
    return SparseAttentionAttachment(modules, counts)
