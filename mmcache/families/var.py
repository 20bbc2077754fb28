"""mmcache's compact VAR (``mmcache.pipelines.var``: ``VARPipeline`` / ``VARTransformer``, toy-var).

Module names and cache layout follow FoundationVision's VAR (``blocks[i].attn``, ``patch_nums``); the
cache is replaced through the transformer's ``kv_cache_factory``.
"""

from __future__ import annotations

from .registry import register_family
from .var_adapter import VARAdapter

VAR = register_family(VARAdapter(
    name="var",
    pipeline_classes=("VARPipeline",),
    transformer_classes=("VARTransformer",),
    presets={"hack": {"budget": 0.3}},
    notes="next-scale prediction; scale-KV methods (HACK and its baselines) replace the per-block KV cache",
))
