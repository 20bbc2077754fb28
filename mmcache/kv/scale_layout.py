"""Where each token of a next-scale-prediction (VAR) sequence sits: which scale it belongs to.

A VAR sequence is the token maps of all scales, coarse to fine, each flattened row by row: for
``patch_nums`` (1, 2, 3, 4, 6, 8) token 0 is scale 0, tokens 1–4 scale 1, ... tokens 66–129 scale 5.
Scale-KV selection needs to know which scale a cached token belongs to (the first scales, the newest).
"""

from __future__ import annotations

import dataclasses
import functools

import torch


@dataclasses.dataclass(frozen=True)
class ScaleLayout:
    """The token layout of one VAR model (``patch_nums``: the side of each scale's square token map)."""

    patch_nums: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.patch_nums or any(not isinstance(pn, int) or pn < 1 for pn in self.patch_nums):
            raise ValueError(f"patch_nums must be positive integers, got {self.patch_nums!r}.")

    @property
    def num_scales(self) -> int:
        return len(self.patch_nums)

    @functools.cached_property
    def begin_ends(self) -> tuple[tuple[int, int], ...]:
        ends, total = [], 0
        for pn in self.patch_nums:
            ends.append((total, total + pn * pn))
            total += pn * pn
        return tuple(ends)

    @property
    def total_tokens(self) -> int:
        return self.begin_ends[-1][1]

    def tokens_through(self, scale: int) -> int:
        """Tokens of scales ``0 … scale`` (what the plain cache holds while scale ``scale`` attends)."""
        return self.begin_ends[scale][1]

    @functools.cached_property
    def scale_of(self) -> torch.Tensor:
        """``[L]`` scale index of every token."""
        return torch.cat([torch.full((pn * pn,), i) for i, pn in enumerate(self.patch_nums)])

    def scale_of_on(self, device: torch.device) -> torch.Tensor:
        """``scale_of`` on ``device``, copied there once (not on every selection)."""
        return _scale_of_on(self, torch.device(device))

    @property
    def held_tokens(self) -> int:
        """The most tokens a cache ever stores: every scale but the last (whose keys nothing reads again)."""
        return self.begin_ends[-1][0]


@functools.lru_cache(maxsize=64)
def _scale_of_on(layout: ScaleLayout, device: torch.device) -> torch.Tensor:
    return layout.scale_of.to(device)
