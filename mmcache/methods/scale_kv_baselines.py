"""Baselines of HACK at the same budget, in the same per-block cache (``GroupedScaleCache``).

* ``ScaleTopKConfig``: every head keeps its own top tokens by the attention of evenly spaced queries of
  the scale just computed (SnapKV's rule, one budget for all heads);
* ``RecentScalesConfig``: the first scales (attention sinks) and then the newest tokens (StreamingLLM's
  rule: sinks and a recent window);
* ``ScaleKVConfig``: per-layer budgets as in ScaleKV (arXiv 2505.19602): the least selective layers
  (drafters, from a HACK calibration file's ``layer_selectivity``) keep ``drafter_weight`` times the
  tokens of the others (refiners); top tokens by the same attention score.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from ..errors import ConfigError
from ..kv.scale_cache import HeadGroup
from ..kv.scale_selectors import recent, top_attended
from .base import is_number, require
from .scale_budget import (ScaleBudgetConfig, budget_tokens, keep_everything, load_head_classes, var_shape,
                           whole_number)

if TYPE_CHECKING:
    from ..families.registry import ResolvedVAR


def _uniform(target: "ResolvedVAR", budget: float, selector) -> list[list[HeadGroup]]:
    layout, heads, layers = var_shape(target)
    if budget >= 1:
        return [keep_everything(heads, layout) for _ in range(layers)]
    group = HeadGroup("all", tuple(range(heads)), budget_tokens(budget, layout), selector)
    return [[group] for _ in range(layers)]


@dataclasses.dataclass
class ScaleTopKConfig(ScaleBudgetConfig):
    """Uniform per-head top-k: each head keeps the ``budget`` share of tokens its observation queries attend to most.

    Args:
        budget: mean share of all scales' tokens a head keeps (1.0 keeps everything).
        observation_queries: evenly spaced queries of the scale just computed that score the tokens.
    """

    method: ClassVar[str] = "scaletopk"

    observation_queries: int = 32

    def validate(self) -> None:
        super().validate()
        require(whole_number(self.observation_queries, 1),
                f"{type(self).__name__}.observation_queries must be an integer >= 1, got {self.observation_queries!r}.")

    def head_groups(self, target: "ResolvedVAR") -> list[list[HeadGroup]]:
        return _uniform(target, self.budget, top_attended(self.observation_queries))


@dataclasses.dataclass
class RecentScalesConfig(ScaleBudgetConfig):
    """Recent scales only: the first ``initial_scales`` scales, then the newest tokens, up to the budget.

    Args:
        budget: share of all scales' tokens a head keeps (1.0 keeps everything).
        initial_scales: the first scales, always kept (attention sinks).
    """

    method: ClassVar[str] = "recentscales"

    initial_scales: int = 2

    def validate(self) -> None:
        super().validate()
        require(whole_number(self.initial_scales, 0),
                f"{type(self).__name__}.initial_scales must be an integer >= 0, got {self.initial_scales!r}.")

    def head_groups(self, target: "ResolvedVAR") -> list[list[HeadGroup]]:
        return _uniform(target, self.budget, recent(self.initial_scales))


@dataclasses.dataclass
class ScaleKVConfig(ScaleBudgetConfig):
    """ScaleKV-style per-layer budgets: drafter layers keep ``drafter_weight`` × a refiner layer's tokens.

    Args:
        budget: mean share of all scales' tokens a layer's heads keep (1.0 keeps everything).
        calibration: a HACK calibration file (``mmcache calibrate --method hack``): its ``layer_selectivity``
            names the drafters (the least selective layers).
        drafters: how many layers are drafters.
        drafter_weight: a drafter's tokens over a refiner's (capped at what a head can hold: every scale
            but the last; the rest goes to the refiners).
        observation_queries: evenly spaced queries of the scale just computed that score the tokens.
    """

    method: ClassVar[str] = "scalekv"
    behaviour_version: ClassVar[int] = 2  # drafter budgets capped at what a head can hold

    calibration: str | None = None
    drafters: int = 1
    drafter_weight: float = 4.0
    observation_queries: int = 16

    def validate(self) -> None:
        super().validate()
        name = type(self).__name__
        require(self.calibration is None or (isinstance(self.calibration, str) and self.calibration.strip() != ""),
                f"{name}.calibration must be the path of a HACK calibration file, got {self.calibration!r}.")
        require(whole_number(self.drafters, 0), f"{name}.drafters must be an integer >= 0, got {self.drafters!r}.")
        require(is_number(self.drafter_weight) and self.drafter_weight >= 1,
                f"{name}.drafter_weight must be a number >= 1, got {self.drafter_weight!r}.")
        require(whole_number(self.observation_queries, 1),
                f"{name}.observation_queries must be an integer >= 1, got {self.observation_queries!r}.")

    def head_groups(self, target: "ResolvedVAR") -> list[list[HeadGroup]]:
        layout, heads, layers = var_shape(target)
        if self.budget >= 1:
            return [keep_everything(heads, layout) for _ in range(layers)]
        calibration = load_head_classes(
            self.calibration, target, "ScaleKVConfig needs calibration=<HACK calibration file> (its layer "
            "selectivity names the drafter layers); make one with `mmcache calibrate --method hack`.")
        if self.drafters >= layers:
            raise ConfigError(f"ScaleKVConfig.drafters must be below the model's {layers} layers, got {self.drafters}.")
        order = sorted(range(layers), key=lambda layer: calibration.layer_selectivity[layer])
        drafters = set(order[: self.drafters])
        total = budget_tokens(self.budget, layout) * layers
        refiner = total / (layers + (self.drafter_weight - 1) * len(drafters))
        drafter = min(layout.held_tokens, round(self.drafter_weight * refiner))
        refiner = max(1, int((total - drafter * len(drafters)) // (layers - len(drafters))))
        selector = top_attended(self.observation_queries)
        return [[HeadGroup("drafter" if layer in drafters else "refiner", tuple(range(heads)),
                           drafter if layer in drafters else refiner, selector)] for layer in range(layers)]
