"""What every scale-KV method (VAR models: HACK and its baselines) shares: a budget and head groups per block.

A scale-KV config says, for each transformer block, how its heads are grouped, how many tokens each group
keeps and how it chooses them (``head_groups``); ``mmcache.enable`` gives every block a
``GroupedScaleCache`` built from that. ``budget`` is the mean share of the full sequence (all scales'
tokens) a head keeps from one scale to the next; 1.0 keeps everything.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ConfigError
from ..kv.scale_cache import HeadGroup
from ..kv.scale_layout import ScaleLayout
from .base import MethodConfig, is_number, require

if TYPE_CHECKING:
    from ..calibration.hack_file import HACKCalibration
    from ..families.registry import ResolvedVAR


def keep_everything(heads: int, layout: ScaleLayout) -> list[HeadGroup]:
    """One group of every head, large enough that nothing is ever dropped (the plain cache's behaviour)."""
    return [HeadGroup("all", tuple(range(heads)), layout.total_tokens, _never_called)]


def _never_called(selection: Any) -> Any:
    raise AssertionError("A group that keeps every token never selects.")


def budget_tokens(fraction: float, layout: ScaleLayout) -> int:
    """Tokens a head keeps at ``fraction`` of the full sequence (at least one)."""
    return max(1, math.floor(fraction * layout.total_tokens + 1e-9))


def var_shape(target: "ResolvedVAR") -> tuple[ScaleLayout, int, int]:
    """``(layout, heads, layers)`` of the VAR model behind ``target``."""
    adapter, transformer = target.adapter, target.transformer
    return adapter.layout(transformer), adapter.num_heads(transformer), len(adapter.blocks(transformer))


def load_head_classes(path: str | None, target: "ResolvedVAR", missing: str) -> "HACKCalibration":
    """The HACK calibration file at ``path``, checked against ``target`` (``missing``: the error without a path)."""
    from ..calibration.hack_file import HACKCalibration

    if path is None:
        raise ConfigError(missing)
    calibration = HACKCalibration.load(path)
    calibration.check(target)
    return calibration


def whole_number(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclasses.dataclass
class ScaleBudgetConfig(MethodConfig):
    """Base of the scale-KV configs: ``budget`` (share of all scales' tokens a head keeps on average)."""

    role: ClassVar[str] = "scale_kv"

    budget: float = 0.3

    def validate(self) -> None:
        name = type(self).__name__
        require(is_number(self.budget) and 0 < self.budget <= 1,
                f"{name}.budget must be a fraction in (0, 1] of the full KV cache, got {self.budget!r}.")

    def head_groups(self, target: "ResolvedVAR") -> list[list[HeadGroup]]:
        """Per block, its head groups (raise ``ConfigError`` if the method does not fit ``target``)."""
        raise NotImplementedError
