"""What a KV method did to one generation of a vision-language model: per layer tokens, bytes and FLOPs.

A run is one prompt: it starts at the prefill of a fresh cache and lasts through the decoding
steps that extend it. ``KVStats`` freezes it; the layers' final counts are read from the cache at
freeze time.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .kept_positions import KeptPositions

if TYPE_CHECKING:
    from .layer_cache import PrunableLayer
    from .policy import PrefillCall


@dataclasses.dataclass(frozen=True)
class KVLayerStats:
    """One decoder layer in one run.

    ``prefill_tokens`` / ``prefill_kept``: the prompt length and the tokens the layer kept of it
    (per head); ``tokens_seen`` / ``tokens_kept``: the same at the end of the run (generated tokens
    included). ``kv_bytes_full``: bytes the plain cache would hold for ``tokens_seen`` tokens;
    ``kv_bytes_held``: bytes held (dense plus quantized). FLOPs follow ``mmcache.kv.policy``:
    ``prefill_attention_flops_dense`` is the plain model's causal prefill attention,
    ``prefill_attention_flops`` what the method's prefill attention computed, ``scoring_flops`` its
    scoring passes. ``important_tokens``: ZipVL's important set (``None`` for other methods).
    """

    layer: int
    prefill_tokens: int
    prefill_kept: int
    tokens_seen: int
    tokens_kept: int
    kv_bytes_full: int
    kv_bytes_held: int
    prefill_attention_flops_dense: int
    prefill_attention_flops: int
    scoring_flops: int
    important_tokens: int | None = None


@dataclasses.dataclass(frozen=True)
class KVStats:
    """Summary of one generation (run) under a KV method; ``layers`` holds one ``KVLayerStats`` per layer."""

    method: str
    run: int
    layers: tuple[KVLayerStats, ...]
    decode_forwards: int

    @property
    def kept_fraction(self) -> float:
        """Tokens held over tokens seen, over all layers."""
        seen = sum(layer.tokens_seen for layer in self.layers)
        return sum(layer.tokens_kept for layer in self.layers) / seen if seen else 1.0

    @property
    def prompt_kept_fraction(self) -> float:
        """Prompt tokens kept after the prefill over prompt tokens, over all layers (generated tokens left out)."""
        prompt = sum(layer.prefill_tokens for layer in self.layers)
        return sum(layer.prefill_kept for layer in self.layers) / prompt if prompt else 1.0

    @property
    def kv_bytes_full(self) -> int:
        return sum(layer.kv_bytes_full for layer in self.layers)

    @property
    def kv_bytes_held(self) -> int:
        return sum(layer.kv_bytes_held for layer in self.layers)

    @property
    def kv_compression(self) -> float:
        """How many times fewer KV bytes than the plain cache."""
        return self.kv_bytes_full / self.kv_bytes_held if self.kv_bytes_held else 1.0

    @property
    def prefill_attention_flops_dense(self) -> int:
        return sum(layer.prefill_attention_flops_dense for layer in self.layers)

    @property
    def prefill_attention_flops(self) -> int:
        """What the method's prefill attention and scoring computed, over all layers."""
        return sum(layer.prefill_attention_flops + layer.scoring_flops for layer in self.layers)

    @property
    def prefill_flops_saved(self) -> float:
        """Share of the plain prefill attention FLOPs not computed (negative when scoring costs more than it saves)."""
        dense = self.prefill_attention_flops_dense
        return 1.0 - self.prefill_attention_flops / dense if dense else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["layers"] = [dataclasses.asdict(layer) for layer in self.layers]
        data.update(kept_fraction=self.kept_fraction, kv_bytes_full=self.kv_bytes_full,
                    kv_bytes_held=self.kv_bytes_held, kv_compression=self.kv_compression,
                    prefill_attention_flops_dense=self.prefill_attention_flops_dense,
                    prefill_attention_flops=self.prefill_attention_flops, prefill_flops_saved=self.prefill_flops_saved)
        return data

    def __str__(self) -> str:
        lines = [f"{self.method} run {self.run}: {len(self.layers)} layers, {self.decode_forwards} decode steps, "
                 f"KV kept {self.kept_fraction:.1%} ({self.kv_bytes_held / 2**20:.3f} of "
                 f"{self.kv_bytes_full / 2**20:.3f} MiB, {self.kv_compression:.2f}x smaller), prefill attention "
                 f"FLOPs {self.prefill_flops_saved:+.1%} saved"]
        lines.append("  kept per layer: " + " ".join(f"{layer.tokens_kept}/{layer.tokens_seen}" for layer in self.layers))
        return "\n".join(lines)


@dataclasses.dataclass
class _LayerRun:
    layer: "PrunableLayer | None"
    prefill_tokens: int
    prefill_kept: int
    dense_flops: int
    attention_flops: int
    scoring_flops: int
    important: int | None
    width: Any  # a [B, Hkv, 1, D] tensor of the dense dtype, for the uncompressed size
    kept: KeptPositions | None = None  # the prompt positions held after the prefill


class KVRecorder:
    """Collects one run's per-layer records and freezes them into ``KVStats``."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.history: list[KVStats] = []
        self.run = -1
        self._layers: dict[int, _LayerRun] = {}
        self._decode_forwards = 0
        self._last_kept: list[KeptPositions] = []

    @property
    def active(self) -> bool:
        return bool(self._layers)

    def start_run(self) -> None:
        self.end_run()
        self.run += 1

    def end_run(self) -> None:
        if self._layers:
            self.history.append(self.freeze())
            self._last_kept = self._kept_now()
        self._layers, self._decode_forwards = {}, 0

    def prefill(self, call: "PrefillCall", layer: "PrunableLayer | None") -> None:
        kept = layer.kept_tokens if layer is not None else call.length
        self._layers[call.layer] = _LayerRun(layer, call.length, kept, call.dense_flops, call.attention_flops,
                                             call.scoring_flops, call.important_tokens, call.key[:, :, :1])

    def prefill_done(self) -> None:
        """The prompt went through every layer: what each layer kept of it is final now."""
        for index, record in self._layers.items():
            if record.layer is not None:
                record.prefill_kept = record.layer.kept_tokens
            record.kept = KeptPositions.of(index, record.prefill_tokens, int(record.width.shape[0]), record.layer)

    def decode(self, layer_index: int) -> None:
        if layer_index == 0:
            self._decode_forwards += 1

    def freeze(self) -> KVStats:
        layers = []
        for index in sorted(self._layers):
            record = self._layers[index]
            layer = record.layer
            seen = layer.seen if layer is not None else record.prefill_tokens
            kept = layer.kept_tokens if layer is not None else record.prefill_kept
            width = record.width
            per_token = 2 * width.shape[0] * width.shape[1] * width.shape[-1] * width.element_size()
            held = layer.nbytes if layer is not None else 0
            layers.append(KVLayerStats(index, record.prefill_tokens, record.prefill_kept, seen, kept, per_token * seen,
                                       held, record.dense_flops, record.attention_flops, record.scoring_flops,
                                       record.important))
        return KVStats(self.method, self.run, tuple(layers), self._decode_forwards)

    def current(self) -> KVStats | None:
        return self.freeze() if self._layers else None

    def _kept_now(self) -> list[KeptPositions]:
        return [self._layers[index].kept for index in sorted(self._layers) if self._layers[index].kept is not None]

    def kept_positions(self) -> list[KeptPositions]:
        """Per layer, the prompt positions held after the prefill: of the run in progress once its prefill is
        done, else of the last finished run (empty before any)."""
        return self._kept_now() if self._layers else list(self._last_kept)
