"""Token sampling of one scale: classifier-free guidance, top-k / top-p filtering, a seeded draw."""

from __future__ import annotations

import torch


def guided_logits(logits: torch.Tensor, guidance_scale: float, si: int, num_scales: int,
                  ramp: bool) -> torch.Tensor:
    """``w · cond − (w − 1) · uncond`` over a batch of both branches (conditional first); ``w`` is
    ``guidance_scale``, or with ``ramp`` grows linearly from 1 at the first scale to it at the last (VAR)."""
    half = logits.shape[0] // 2
    fraction = si / max(1, num_scales - 1) if ramp else 1.0
    w = 1.0 + (guidance_scale - 1.0) * fraction
    return w * logits[:half] - (w - 1.0) * logits[half:]


def filter_top_k_top_p(logits: torch.Tensor, top_k: int = 0, top_p: float = 0.0) -> torch.Tensor:
    """Logits with everything outside the ``top_k`` largest (0: no limit) and outside the smallest set holding
    probability ``top_p`` (0: no limit) set to −inf."""
    if top_k > 0:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -torch.inf)
    if top_p > 0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(-1)
        outside = probs.cumsum(-1) - probs >= top_p  # the better tokens already hold top_p
        logits = logits.masked_fill(outside.scatter(-1, order, outside), -torch.inf)
    return logits


def sample_tokens(logits: torch.Tensor, generator: torch.Generator | None, top_k: int = 0,
                  top_p: float = 0.0) -> torch.Tensor:
    """One token per position, ``[B, l, V]`` logits → ``[B, l]`` ids, drawn on the generator's device."""
    probs = filter_top_k_top_p(logits.float(), top_k, top_p).softmax(-1)
    device = generator.device if generator is not None else probs.device
    drawn = torch.multinomial(probs.flatten(0, 1).to(device), 1, generator=generator)
    return drawn.view(logits.shape[:2]).to(logits.device)
