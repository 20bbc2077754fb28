"""The description of a next-scale-prediction (VAR) model family: where its blocks, heads and KV cache are.

The scale-KV methods (HACK and its baselines) replace each block's KV cache for one sampling run. A
family says how: by default the transformer has a ``kv_cache_factory`` attribute (called once per block
at the start of every run, ``factory(layer) -> cache``), the cache interface of ``mmcache.pipelines.var``.
A checkpoint whose attention concatenates its own ``cached_k`` / ``cached_v`` (FoundationVision's VAR,
Infinity) needs a family file whose ``install`` wraps the attention forward instead (docs/FAMILIES.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import torch

from ..kv.scale_layout import ScaleLayout
from .vlm_adapter import attribute_path

CacheFactory = Callable[[int], Any]


@dataclasses.dataclass(frozen=True)
class VARAdapter:
    """Everything the scale-KV methods need to know about one family of VAR models.

    Attributes:
        name: family name shown to users.
        pipeline_classes: pipeline class names (the object holding the transformer).
        transformer_classes: transformer class names.
        transformer_attribute: the pipeline's attribute holding the transformer.
        blocks_attribute: the transformer's ``ModuleList`` of blocks.
        attention_attribute: the attention module inside a block (``num_heads``, ``head_dim``).
        scales_attribute: the transformer's attribute listing each scale's token-map side.
        factory_attribute: the transformer's attribute holding the per-block cache factory.
        presets: per method name, the settings that suit this family.
    """

    name: str
    pipeline_classes: tuple[str, ...]
    transformer_classes: tuple[str, ...]
    transformer_attribute: str = "transformer"
    blocks_attribute: str = "blocks"
    attention_attribute: str = "attn"
    scales_attribute: str = "patch_nums"
    factory_attribute: str = "kv_cache_factory"
    presets: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    notes: str = ""

    def blocks(self, transformer: torch.nn.Module) -> list[torch.nn.Module]:
        return list(attribute_path(transformer, self.blocks_attribute))

    def attention(self, block: torch.nn.Module) -> torch.nn.Module:
        return attribute_path(block, self.attention_attribute)

    def layout(self, transformer: torch.nn.Module) -> ScaleLayout:
        return ScaleLayout(tuple(int(pn) for pn in getattr(transformer, self.scales_attribute)))

    def num_heads(self, transformer: torch.nn.Module) -> int:
        return int(self.attention(self.blocks(transformer)[0]).num_heads)

    def install(self, transformer: torch.nn.Module, factory: CacheFactory) -> Callable[[], None]:
        """Makes every later sampling run use ``factory``'s caches; returns what restores the previous factory."""
        previous = getattr(transformer, self.factory_attribute)
        setattr(transformer, self.factory_attribute, factory)

        def restore() -> None:
            setattr(transformer, self.factory_attribute, previous)

        return restore
