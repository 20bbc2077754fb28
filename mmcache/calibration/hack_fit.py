"""HACK's offline head classification: profile plain sampling runs, score every head, split by a fraction.

At the last scale every head's attention matrix (the scale's queries over all keys so far) is scored
by its column-wise variance (the variance over queries of each key column, summed over columns):
a contextual head (vertical stripes: a few keys every query reads) scores low, a structural head
(diagonals: each query reads its own spatial neighbours) high. Scores are averaged over the calibration
images (both guidance branches); the ``contextual_fraction`` lowest over all layers together are
contextual. The same pass measures each layer's attention selectivity (ScaleKV's index: the mass the
last scale's queries put on their own map times the mass of their top tenth of earlier tokens).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..families.registry import ResolvedVAR, resolve_var
from ..kv.scale_cache import GroupedScaleCache, HeadGroup
from ..kv.scale_layout import ScaleLayout
from .hack_file import HACKCalibration, describe_var

HISTORY_TOP_SHARE = 0.1  # ScaleKV's top-k' of earlier tokens, as a share of them


class _Profile:
    """Sums of each layer's head scores and selectivity over the profiled runs."""

    def __init__(self, layers: int, heads: int) -> None:
        self.variance = torch.zeros(layers, heads, dtype=torch.float64)
        self.selectivity = torch.zeros(layers, dtype=torch.float64)
        self.runs = torch.zeros(layers, dtype=torch.float64)

    def add(self, layer: int, probs: torch.Tensor, begin: int) -> None:
        """``probs [B, H, l, L]``: the last scale's attention; its own map starts at key ``begin``."""
        self.variance[layer] += probs.var(dim=2, unbiased=False).sum(dim=-1).mean(dim=0).double().cpu()
        own = probs[..., begin:].sum(dim=-1)
        top = probs[..., :begin].topk(max(1, int(HISTORY_TOP_SHARE * begin)), dim=-1).values.sum(dim=-1)
        self.selectivity[layer] += (own * top).mean().double().cpu()  # the sums stay on the CPU, runs anywhere
        self.runs[layer] += 1


class _ProfilingCache(GroupedScaleCache):
    """The plain cache (one group, nothing dropped) that also scores the last scale's attention."""

    def __init__(self, layer: int, layout: ScaleLayout, heads: int, profile: _Profile) -> None:
        keep_all = HeadGroup("all", tuple(range(heads)), layout.total_tokens, lambda selection: None)
        super().__init__(layer, layout, [keep_all])
        self.profile = profile

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: int,
               softmax_scale: float) -> torch.Tensor:
        if scale == self.layout.num_scales - 1:
            stored = self.group_tensors(0)
            keys = k if stored is None else torch.cat((stored[0], k), dim=2)
            probs = (torch.matmul(q.float(), keys.float().transpose(-1, -2)) * softmax_scale).softmax(dim=-1)
            self.profile.add(self.layer, probs, self.layout.begin_ends[scale][0])
        return super().attend(q, k, v, scale, softmax_scale)


def classify(scores: torch.Tensor, contextual_fraction: float) -> list[list[int]]:
    """Per layer, the heads among the ``contextual_fraction`` lowest ``scores [layers, heads]`` of all."""
    count = round(contextual_fraction * scores.numel())
    lowest = set(scores.flatten().argsort()[:count].tolist())
    heads = scores.shape[1]
    return [[h for h in range(heads) if layer * heads + h in lowest] for layer in range(scores.shape[0])]


def calibrate_hack(pipe: Any, prompts: Sequence[Any], seeds: Sequence[int], contextual_fraction: float = 0.5,
                   progress: bool = True, **generation: Any) -> HACKCalibration:
    """Profile ``pipe(prompt, generator=seeded, **generation)`` for every prompt and seed; classify the heads."""
    if not 0 <= contextual_fraction <= 1:
        raise ConfigError(f"contextual_fraction must lie in [0, 1], got {contextual_fraction!r}.")
    prompts, seeds = list(prompts), list(seeds)
    if not prompts or not seeds:
        raise ConfigError("calibrate(method='hack') needs at least one prompt and one seed.")
    resolved: ResolvedVAR = resolve_var(pipe)
    adapter, transformer = resolved.adapter, resolved.transformer
    layout, heads = adapter.layout(transformer), adapter.num_heads(transformer)
    layers = len(adapter.blocks(transformer))
    if layout.num_scales < 2:
        raise ConfigError("HACK needs a model of at least two scales: with one, nothing is cached.")
    profile = _Profile(layers, heads)
    restore = adapter.install(transformer, lambda layer: _ProfilingCache(layer, layout, heads, profile))
    runs = [(prompt, seed) for prompt in prompts for seed in seeds]
    sample = getattr(pipe, "sample_indices", pipe)  # the tokens are enough: no image to decode
    if sample is not pipe:
        generation = {key: value for key, value in generation.items() if key != "output_type"}
    try:
        for prompt, seed in tqdm(runs, desc="profiling heads", disable=not progress):
            generator = torch.Generator(device="cpu").manual_seed(int(seed))
            sample(prompt, generator=generator, **generation)
    finally:
        restore()
    scores = profile.variance / profile.runs.clamp_min(1)[:, None]
    selectivity = profile.selectivity / profile.runs.clamp_min(1)
    return HACKCalibration(target=describe_var(resolved), contextual_fraction=float(contextual_fraction),
                           contextual_heads=classify(scores, contextual_fraction),
                           head_scores=scores.tolist(), layer_selectivity=selectivity.tolist(),
                           samples=len(runs), prompts=[str(prompt) for prompt in prompts])
