"""HACK (arXiv 2504.09261): head-aware KV compression for next-scale-prediction (VAR) models.

Offline, every head is classified (``mmcache calibrate --method hack``): contextual heads (a few key
columns every query reads) and structural heads (each query reads its spatial neighbours across scales).
While sampling, after each scale every block compresses its cache per head class, one attention call
per class (heads of a class keep equally many tokens):

* contextual heads keep ``B_C`` tokens: the most attended by evenly spaced queries of the scale just
  computed (the paper's N_obs, 32);
* structural heads keep ``B_S`` tokens: the first ``initial_scales`` scales, the scale just computed,
  then the best-attended of the others;
* ``B = α·B_C + (1 − α)·B_S`` with ``α`` the calibration's share of contextual heads: the mean KV length
  stays at the budget. By default ``B_C = contextual_ratio · B_S`` (the paper: B_C ≪ B_S). No class gets
  more than a head can ever hold (every scale but the last); the rest goes to the other class;
* with ``merge_evicted`` (the paper's soft merge, LOOK-M's averaged rule) the tokens a head drops are
  averaged into the kept token whose key is most similar.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from ..errors import ConfigError
from ..kv.scale_cache import HeadGroup
from ..kv.scale_selectors import structural, top_attended
from .base import is_number, require
from .scale_budget import (ScaleBudgetConfig, budget_tokens, keep_everything, load_head_classes, var_shape,
                           whole_number)

if TYPE_CHECKING:
    from ..families.registry import ResolvedVAR

BUDGET_TOLERANCE = 0.01


def class_budgets(budget: float, contextual_share: float, ratio: float, cap: float = 1.0) -> tuple[float, float]:
    """``(B_C, B_S)`` as shares of the sequence with ``α·B_C + (1 − α)·B_S = budget`` and ``B_C = ratio · B_S``,
    each at most ``cap`` (the share a head can ever hold): what a capped class cannot use goes to the other."""
    structural_share = budget / (contextual_share * ratio + 1 - contextual_share)
    if structural_share > cap:
        structural_share = cap
        rest = (budget - (1 - contextual_share) * cap) / contextual_share if contextual_share else 0.0
        return min(cap, max(rest, 0.0)), structural_share
    return ratio * structural_share, structural_share


@dataclasses.dataclass
class HACKConfig(ScaleBudgetConfig):
    """HACK at a budget (mean share of all scales' tokens a head keeps).

    Args:
        budget: the mean KV length over heads, as a share of the full sequence (1.0 keeps everything).
        calibration: the head classification file (``mmcache calibrate --method hack``).
        contextual_budget, structural_budget: each class's share of the sequence; give both (their mean,
            weighted by the classes' sizes, must equal ``budget``) or neither (``contextual_ratio`` splits it).
        contextual_ratio: ``B_C / B_S`` when the class budgets are not given.
        observation_queries: evenly spaced queries of the scale just computed that score the tokens.
        initial_scales: the first scales structural heads always keep.
        merge_evicted: average each dropped token into its most similar kept token (else it is dropped).
    """

    method: ClassVar[str] = "hack"
    behaviour_version: ClassVar[int] = 2  # class budgets capped at what a head can hold

    calibration: str | None = None
    contextual_budget: float | None = None
    structural_budget: float | None = None
    contextual_ratio: float = 0.25
    observation_queries: int = 32
    initial_scales: int = 2
    merge_evicted: bool = True

    def validate(self) -> None:
        super().validate()
        name = type(self).__name__
        require(self.calibration is None or (isinstance(self.calibration, str) and self.calibration.strip() != ""),
                f"{name}.calibration must be the path of a HACK calibration file, got {self.calibration!r}.")
        for field in ("contextual_budget", "structural_budget"):
            value = getattr(self, field)
            require(value is None or (is_number(value) and 0 < value <= 1),
                    f"{name}.{field} must be a fraction in (0, 1] or None, got {value!r}.")
        require((self.contextual_budget is None) == (self.structural_budget is None),
                f"{name}: give both contextual_budget and structural_budget, or neither (then contextual_ratio "
                "splits budget).")
        require(is_number(self.contextual_ratio) and 0 < self.contextual_ratio <= 1,
                f"{name}.contextual_ratio must be in (0, 1], got {self.contextual_ratio!r}.")
        require(whole_number(self.observation_queries, 1),
                f"{name}.observation_queries must be an integer >= 1, got {self.observation_queries!r}.")
        require(whole_number(self.initial_scales, 0),
                f"{name}.initial_scales must be an integer >= 0, got {self.initial_scales!r}.")
        require(isinstance(self.merge_evicted, bool),
                f"{name}.merge_evicted must be true or false, got {self.merge_evicted!r}.")

    def class_budgets(self, contextual_share: float, cap: float = 1.0) -> tuple[float, float]:
        """``(B_C, B_S)`` as shares of the sequence, for a model whose heads are ``contextual_share`` contextual and
        hold at most ``cap`` of the sequence."""
        if self.contextual_budget is None or self.structural_budget is None:
            return class_budgets(self.budget, contextual_share, self.contextual_ratio, cap)
        mean = contextual_share * self.contextual_budget + (1 - contextual_share) * self.structural_budget
        if abs(mean - self.budget) > BUDGET_TOLERANCE:
            raise ConfigError(
                f"HACKConfig: contextual_budget {self.contextual_budget} and structural_budget {self.structural_budget} "
                f"average {mean:.3f} over this model's heads ({contextual_share:.0%} contextual), not budget "
                f"{self.budget}; set budget={mean:.3f} or change the class budgets.")
        return self.contextual_budget, self.structural_budget

    def head_groups(self, target: "ResolvedVAR") -> list[list[HeadGroup]]:
        layout, heads, layers = var_shape(target)
        if self.budget >= 1 and self.contextual_budget is None:
            return [keep_everything(heads, layout) for _ in range(layers)]
        calibration = load_head_classes(
            self.calibration, target, "HACKConfig needs calibration=<file> with the model's head classes; make one "
            "with `mmcache calibrate --method hack --model <model> --out hack.json`.")
        share = sum(map(len, calibration.contextual_heads)) / (layers * heads)
        contextual_share, structural_share = self.class_budgets(share, layout.held_tokens / layout.total_tokens)
        contextual = HeadGroup("contextual", (), budget_tokens(contextual_share, layout),
                               top_attended(self.observation_queries), self.merge_evicted)
        structural_group = HeadGroup("structural", (), budget_tokens(structural_share, layout),
                                     structural(self.observation_queries, self.initial_scales), self.merge_evicted)
        groups = []
        for layer in range(layers):
            classes = ((contextual, calibration.contextual_heads[layer]),
                       (structural_group, calibration.structural_heads(layer)))
            groups.append([dataclasses.replace(group, heads=tuple(members)) for group, members in classes if members])
        return groups
