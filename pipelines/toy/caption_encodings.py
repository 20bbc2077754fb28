"""How far apart the text encoder puts captions that differ in one word, per background.

If the denoiser ignores a word on one background, the frozen text encoder may be the reason: it could map
captions differing only in that word to nearly the same states in that background's context. This
measures it directly on the states the denoiser is given: for every caption of the grammar, the relative
L2 distance ``|E(c) - E(swap(c))| / |E(c)|`` between its encoding and that of the same caption with its
motion, colour or shape swapped (the swaps of the ``words`` check), averaged per background.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .caption_sensitivity import SWAPS, swapped
from .captions import BACKGROUNDS, CaptionSpec, all_specs

Encode = Callable[[list[str]], torch.Tensor]  # captions -> states [B, tokens, dim]


def relative_distances(reference: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``|a - b| / |a|`` over all token states, for each pair of rows of ``reference`` and ``other``."""
    a, b = reference.float().flatten(1), other.float().flatten(1)
    return (a - b).norm(dim=1) / a.norm(dim=1).clamp_min(1e-12)


@torch.no_grad()
def word_swap_distances(encode: Encode, specs: Sequence[CaptionSpec] | None = None) -> dict[str, dict[str, float]]:
    """Per background of ``specs`` (default: every caption of the grammar), the mean relative distance of
    each word's swap. The true captions are encoded once per background."""
    specs = list(all_specs() if specs is None else specs)
    result: dict[str, dict[str, float]] = {}
    for background in BACKGROUNDS:
        chosen = [s for s in specs if s.background == background]
        if not chosen:
            continue
        reference = encode([s.text for s in chosen])
        result[background] = {word: float(relative_distances(reference, encode([swapped(s, word).text for s in chosen])).mean())
                              for word in SWAPS}
        result[background]["captions"] = len(chosen)
    return result
