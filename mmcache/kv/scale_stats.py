"""What a scale-KV method kept and saved in one VAR sampling run, next to what the plain cache would hold.

Counted the same way for every method and for the plain cache (``ScaleKVStats.plain``):

* ``kv_bytes_peak``: the most K/V bytes held at once, over scales: every block's kept tokens plus the
  scale being computed (the plain cache: every token of the scales so far);
* ``kv_bytes_held``: the most K/V bytes kept from one scale to the next (after compression; the plain
  cache keeps everything; the last scale's keys, which nothing reads again, count for neither);
* ``attention_flops``: query-key and attention-value products of the sampling, ``4 · B · l · n · D`` per head
  and block for ``l`` queries over ``n`` keys.

A run recorded with ``record_kept`` (``ScaleKVHandle.record_kept``) also says which tokens every head group kept
after each scale (``kept_tokens``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .scale_cache import KeptTokens, ScaleRecord
from .scale_layout import ScaleLayout


@dataclasses.dataclass(frozen=True)
class ScaleKVStats:
    """Per block and scale: keys read and tokens kept (summed over heads), and the totals derived from them."""

    method: str
    records: tuple[ScaleRecord, ...]
    layout: ScaleLayout | None = None

    def _per_scale(self, field: str) -> dict[int, int]:
        totals: dict[int, int] = {}
        for record in self.records:
            per_token = 2 * record.batch * record.head_dim * record.element_size
            totals[record.scale] = totals.get(record.scale, 0) + getattr(record, field) * per_token
        return totals

    @property
    def kv_bytes_peak(self) -> int:
        return max(self._per_scale("read").values(), default=0)

    @property
    def kv_bytes_held(self) -> int:
        return max(self._per_scale("kept").values(), default=0)

    @property
    def attention_flops(self) -> int:
        return sum(4 * r.batch * r.queries * r.read * r.head_dim for r in self.records)

    @property
    def kept_per_head(self) -> dict[int, dict[int, float]]:
        """Layer → scale → mean tokens a head keeps after that scale."""
        table: dict[int, dict[int, float]] = {}
        for record in self.records:
            table.setdefault(record.layer, {})[record.scale] = record.kept / record.heads
        return table

    def kept_tokens(self) -> dict[int, dict[int, tuple[KeptTokens, ...]]]:
        """Layer → scale → per head group, the tokens its heads kept after that scale (first batch row).

        Empty unless the run was recorded with ``record_kept``; after the last scale every group keeps none.
        """
        table: dict[int, dict[int, tuple[KeptTokens, ...]]] = {}
        for record in self.records:
            if record.kept_tokens is not None:
                table.setdefault(record.layer, {})[record.scale] = record.kept_tokens
        return table

    def plain(self) -> "ScaleKVStats":
        """The same run's counts for the plain cache: every token of every earlier scale read and kept."""
        if self.layout is None:
            raise ValueError("These stats carry no scale layout; the plain cache's counts need one.")
        records = []
        for record in self.records:
            through = self.layout.tokens_through(record.scale) * record.heads
            last = record.scale == self.layout.num_scales - 1
            records.append(dataclasses.replace(record, read=through, kept=0 if last else through, kept_tokens=None))
        return ScaleKVStats("plain", tuple(records), self.layout)

    def ratios(self) -> dict[str, float | None]:
        """Peak bytes, bytes held between scales and attention FLOPs over the plain cache's (1.0: no saving)."""
        plain = self.plain()
        pairs = {"kv_bytes_peak": (self.kv_bytes_peak, plain.kv_bytes_peak),
                 "kv_bytes_held": (self.kv_bytes_held, plain.kv_bytes_held),
                 "attention_flops": (self.attention_flops, plain.attention_flops)}
        return {name: (mine / theirs if theirs else None) for name, (mine, theirs) in pairs.items()}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "kv_bytes_peak": self.kv_bytes_peak,
                                "kv_bytes_held": self.kv_bytes_held, "attention_flops": self.attention_flops,
                                "kept_per_head": self.kept_per_head}
        if self.layout is not None and self.records:
            data["ratios"] = self.ratios()
        return data


class ScaleKVRecorder:
    """Collects the records of the caches of one sampling run at a time; ``history`` holds finished runs."""

    def __init__(self, method: str, layout: ScaleLayout) -> None:
        self.method, self.layout = method, layout
        self.record_kept = False  # whether the caches of the next runs record the kept tokens
        self._records: list[ScaleRecord] = []
        self.history: list[ScaleKVStats] = []

    def record(self, record: ScaleRecord) -> None:
        if record.layer == 0 and record.scale == 0 and self._records:
            self.end_run()
        self._records.append(record)

    def current(self) -> ScaleKVStats | None:
        return ScaleKVStats(self.method, tuple(self._records), self.layout) if self._records else None

    def end_run(self) -> None:
        if self._records:
            self.history.append(ScaleKVStats(self.method, tuple(self._records), self.layout))
            self._records = []
