"""Cache methods, one module each: its config dataclass, its policy or attachment, its small helpers.

Importing this package imports every method module in it, so that each config class registers
itself: adding a method is adding one module here (plus its test and docs).
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Decision, MethodConfig, StepPolicy, registered_methods

_INFRASTRUCTURE = {"base", "spec"}

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _INFRASTRUCTURE:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Decision", "MethodConfig", "StepPolicy", "registered_methods"]
