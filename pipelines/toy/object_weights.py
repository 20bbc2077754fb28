"""Per-token loss weights that make a faint object count as much as a vivid one.

In the normalised latent space a blue or purple object on the gray background differs from the
background by about a fifth of what a yellow object on black does (peak deviation 1.6 against 9.7,
``runs/toy/latents-enc1``). The flow-matching MSE therefore charges little for drawing such an object
in the wrong place, and toy-df's gray videos are where it fails. These weights add ``strength ·
(reference / peak)²`` (capped at ``cap``) on the tokens of each latent frame whose deviation from the
frame's background (the per-channel spatial median) is at least half that frame's peak deviation, so
that the object's error is charged in proportion to the object's own contrast. Measured once (``train df
--object-weight 1``, 1000 steps from the shipped toy-df): no gain on gray (docs/MODELS.md, "Why gray is lost").
"""

from __future__ import annotations

import torch

CAP = 16.0


def background_deviation(latents: torch.Tensor) -> torch.Tensor:
    """``[N, F, h, w]``: each token's distance from its frame's background, the per-channel spatial median
    of ``latents`` ``[N, C, F, h, w]`` (the shapes world's background is flat and covers most tokens)."""
    background = latents.flatten(3).median(dim=3).values[..., None, None]
    return (latents - background).pow(2).sum(dim=1).sqrt()


def object_token_weights(latents: torch.Tensor, strength: float, reference: float | None = None,
                         cap: float = CAP) -> torch.Tensor:
    """Loss weights ``[N, F, h, w]``: 1 on background tokens, ``1 + strength · min(cap, (reference / peak)²)``
    on object tokens (deviation ≥ half the frame's ``peak``); ``reference`` defaults to the median peak of
    the set, so a typical object gets ``1 + strength``."""
    if strength < 0:
        raise ValueError(f"The object weight strength must be non-negative; got {strength}.")
    deviation = background_deviation(latents)
    peak = deviation.flatten(2).max(dim=2).values[..., None, None]  # [N, F, 1, 1]
    if reference is None:
        reference = float(peak.median())
    boost = (reference / peak.clamp_min(1e-6)).pow(2).clamp(max=cap)
    is_object = deviation >= 0.5 * peak
    return 1.0 + strength * boost * is_object
