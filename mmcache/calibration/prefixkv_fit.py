"""Fit PrefixKV's per-layer eviction fractions offline: record layer importance on sample prompts, then search
one global threshold per sample.

For each calibration input the model runs one prefill forward (no generation) with a recording
policy: every layer's importance (attention received per key, averaged over heads, summed over the
prompt's queries). Per sample, ``kv.budgets.global_threshold_evictions`` finds the one threshold
whose per-layer kept counts meet the budget (4 sinks and the last token protected); the sample's
fractions are the evicted counts over its length. The stored fractions are their mean over samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

import torch

from ..errors import ConfigError
from ..kv.budgets import global_threshold_evictions
from ..kv.policy import KVPolicy, PrefillCall
from .prefixkv_file import PROTECTED_LAST, SINKS, PrefixKVCalibration, describe_vlm

if TYPE_CHECKING:
    from ..kv.layer_cache import PrunableLayer

PROTECTED = SINKS + PROTECTED_LAST


class ImportanceRecorder(KVPolicy):
    """Computes every prefill densely and keeps each layer's importance ``[T]`` (batch rows summed)."""

    method = "prefixkv-calibration"

    def __init__(self) -> None:
        self.scores: dict[int, torch.Tensor] = {}

    def prefill(self, call: PrefillCall, layer: "PrunableLayer | None") -> torch.Tensor:
        from ..methods.prefixkv import layer_importance

        output = call.dense()
        self.scores[call.layer] = layer_importance(call).sum(dim=0).float().cpu()
        return output


def sample_fractions(scores: torch.Tensor, budget: float) -> list[float]:
    """One sample's per-layer eviction fractions (``scores [L, T]``) at ``budget``."""
    evicted = global_threshold_evictions(scores, 1.0 - budget, PROTECTED)
    return [count / scores.shape[-1] for count in evicted.tolist()]


def calibrate_prefixkv(target: Any, inputs: Iterable[Mapping[str, Any]], budget: float,
                       progress: bool = True) -> PrefixKVCalibration:
    """Profile ``target`` (a VLM or an object holding one as ``.model``) on ``inputs`` (model input dicts, e.g. a
    processor's output) and fit PrefixKV's per-layer eviction fractions for ``budget``."""
    from tqdm.auto import tqdm

    from ..api import disable
    from ..kv_api import enable_kv_policy

    if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not 0 < budget < 1:
        raise ConfigError(f"PrefixKV calibration needs a budget in (0, 1) (the fraction of the KV cache kept), "
                          f"got {budget!r}.")
    samples = list(inputs)
    if not samples or not all(isinstance(sample, Mapping) and "input_ids" in sample for sample in samples):
        raise ConfigError("calibrate(method='prefixkv') needs inputs=[...]: one or more model input dicts with "
                          "'input_ids' (a processor's output for a prompt and its image or video).")
    recorder = ImportanceRecorder()
    handle = enable_kv_policy(target, lambda resolved: recorder)
    model = handle.resolved.model
    fractions, lengths = [], []
    try:
        for sample in tqdm(samples, desc="calibration prompts", disable=not progress):
            recorder.scores = {}
            device = next(model.parameters()).device
            batch = {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in sample.items()}
            with torch.no_grad():
                model(**batch, use_cache=False)
            scores = torch.stack([recorder.scores[index] for index in sorted(recorder.scores)])
            fractions.append(sample_fractions(scores, budget))
            lengths.append(int(scores.shape[-1]))
        target_description = describe_vlm(handle.resolved)
    finally:
        disable(target)
    mean = torch.tensor(fractions, dtype=torch.float64).mean(dim=0).tolist()
    return PrefixKVCalibration(target=target_description, budget=float(budget), evict_fractions=mean,
                               samples=len(samples), prompt_lengths=lengths,
                               diagnostics={"sample_fractions": fractions})
