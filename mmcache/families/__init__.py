"""Model families: one module each, holding its adapter (where the denoiser, its blocks and CFG
branches are; for a vision-language model, where its language model and decoder layers are), its
method presets and the pipelines it serves or refuses.

Importing this package registers every built-in family; adding one is adding a module here (plus
a tiny random-weight instance and its test, see docs/FAMILIES.md).
"""

from __future__ import annotations

import importlib
import pkgutil

from .adapter import FamilyAdapter
from .registry import families, register_family, resolve_target
from .vlm_adapter import VLMAdapter

_INFRASTRUCTURE = {"adapter", "registry", "var_adapter", "vlm_adapter"}

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _INFRASTRUCTURE:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FamilyAdapter", "VLMAdapter", "families", "register_family", "resolve_target"]
