"""What a cache method did during one pipeline call: counters, a per-step timeline, timings."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class StepRecord:
    """One denoiser evaluation of one CFG branch.

    ``metric`` is the method's decision quantity at this step (EasyCache: the accumulated error
    estimate E) and ``threshold`` what it was compared with; both are ``None`` where no comparison
    was made (warmup, final steps). ``reason`` says why the call was computed or reused.
    ``window`` numbers the denoising loops of a diffusion-forcing call (``step`` restarts in each).
    """

    step: int
    branch: str
    computed: bool
    reason: str
    metric: float | None = None
    threshold: float | None = None
    window: int = 0


@dataclasses.dataclass(frozen=True)
class ChunkRecord:
    """What happened to one chunk (a causal block of latent frames) in one forward of a chunk-level method.

    ``state``: ``computed`` (denoised, run through the blocks), ``reused`` (denoised, its stored
    residual added, not run), ``cached`` (finished, its keys and values read from the KV cache, not
    forwarded), ``encoded`` (finished, forwarded once at timestep 0 to fill the cache), ``context``
    (not denoised but forwarded, as a bidirectional model needs), ``skipped`` (not started, not
    forwarded: no earlier chunk attends to it).
    """

    window: int
    iteration: int
    branch: str
    chunk: int
    state: str


@dataclasses.dataclass(frozen=True)
class BranchCounts:
    """Denoiser evaluations of one CFG branch."""

    calls: int
    computed: int
    skipped: int


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """Summary of one pipeline call (a *run*) under a cache method.

    ``calls`` counts denoiser evaluations per CFG branch (a step with CFG counts two, whether the
    pipeline batches the branches or not). ``estimated_speedup`` is ``calls / computed``;
    ``measured_speedup`` compares the measured denoiser time with what computing every call would
    have cost at the measured mean time of a computed forward. ``compute_saved`` is the share of
    the plain pipeline's block-stack work not done, counted in latent positions run through the
    denoiser's blocks, the same way for every method (a reused call saves all of its positions, a
    reused or cached chunk its own). Chunk-level methods add ``chunk_timeline`` (one
    ``ChunkRecord`` per chunk and forward) and ``peak_kv_bytes`` (the most their KV cache held);
    a policy selecting which of a pipeline's own cached tokens attention reads reports the share it
    read (``kv_read_fraction``); one keeping the prompt's projections instead of recomputing them
    reports what they held (``text_kv_bytes``).
    """

    method: str
    run: int
    num_steps: int | None
    calls: int
    computed: int
    skipped: int
    branches: dict[str, BranchCounts]
    timeline: tuple[StepRecord, ...]
    forwards: int
    computed_forwards: int
    denoiser_seconds: float | None
    computed_forward_seconds: float | None
    reused_forward_seconds: float | None
    compute_saved: float | None = None
    chunk_timeline: tuple[ChunkRecord, ...] = ()
    peak_kv_bytes: int | None = None
    kv_read_fraction: float | None = None
    text_kv_bytes: int | None = None

    @property
    def chunk_counts(self) -> dict[str, int]:
        """How many chunk forwards ended in each state (``computed``, ``reused``, ``cached``, ...)."""
        counts: dict[str, int] = {}
        for record in self.chunk_timeline:
            counts[record.state] = counts.get(record.state, 0) + 1
        return counts

    @property
    def skip_ratio(self) -> float:
        """Fraction of denoiser evaluations that were reused."""
        return self.skipped / self.calls if self.calls else 0.0

    @property
    def estimated_speedup(self) -> float:
        """Denoiser evaluations over computed evaluations."""
        return self.calls / self.computed if self.computed else float("inf") if self.calls else 1.0

    @property
    def measured_speedup(self) -> float | None:
        """Full-compute denoiser time (estimated from the mean computed forward) over the measured time."""
        if not self.denoiser_seconds or not self.computed_forwards or self.computed_forward_seconds is None:
            return None
        mean_computed = self.computed_forward_seconds / self.computed_forwards
        return mean_computed * self.forwards / self.denoiser_seconds

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, derived quantities included."""
        data = dataclasses.asdict(self)
        data["timeline"] = [dataclasses.asdict(record) for record in self.timeline]
        data["chunk_timeline"] = [dataclasses.asdict(record) for record in self.chunk_timeline]
        data.update(
            chunk_counts=self.chunk_counts,
            skip_ratio=self.skip_ratio,
            estimated_speedup=self.estimated_speedup,
            measured_speedup=self.measured_speedup,
        )
        return data

    def __str__(self) -> str:
        if self.chunk_timeline:  # every call runs, each over only the chunks it needs
            lines = [f"{self.method} run {self.run}: {self.calls} denoiser calls, each running only the chunks "
                     "it needs (below)"]
        else:
            lines = [
                f"{self.method} run {self.run}: {self.calls} denoiser calls, {self.computed} computed, "
                f"{self.skipped} reused (skip ratio {self.skip_ratio:.1%}, estimated speedup "
                f"{self.estimated_speedup:.2f}x" + (f", measured {self.measured_speedup:.2f}x" if self.measured_speedup
                                                   else "") + ")"
            ]
        for name, counts in self.branches.items():
            lines.append(f"  {name}: {counts.calls} calls, {counts.computed} computed, {counts.skipped} reused")
        if self.compute_saved is not None:
            lines.append(f"  compute saved: {self.compute_saved:.1%} of the plain pipeline's block-stack work")
        if self.chunk_timeline:
            lines.append("  chunks: " + ", ".join(f"{count} {state}" for state, count in self.chunk_counts.items())
                         + (f"; peak KV {self.peak_kv_bytes / 2**20:.2f} MiB" if self.peak_kv_bytes else "")
                         + (f"; prompt K/V kept {self.text_kv_bytes / 2**20:.2f} MiB" if self.text_kv_bytes else ""))
        if not self.chunk_timeline:
            lines.append("  timeline: " + "".join("C" if r.computed else "." for r in self.timeline))
        return "\n".join(lines)


class RunRecorder:
    """Collects ``StepRecord``s and forward timings of one run and freezes them into ``CacheStats``."""

    def __init__(self, method: str, run: int) -> None:
        self.method = method
        self.run = run
        self.num_steps: int | None = None
        self.records: list[StepRecord] = []
        self._forward_timers: list[tuple[bool, Any]] = []
        self.plain_positions = 0
        self.computed_positions = 0
        self.extra: Any = None  # a callable giving chunk-level fields (chunk_timeline, peak_kv_bytes)

    def add(self, record: StepRecord) -> None:
        self.records.append(record)

    def add_forward(self, computed: bool, timer: Any, plain_positions: int = 0, computed_positions: int = 0) -> None:
        """Register one denoiser forward: its timer (resolved lazily, to avoid device syncs) and its work."""
        self._forward_timers.append((computed, timer))
        self.plain_positions += plain_positions
        self.computed_positions += computed_positions

    def freeze(self) -> CacheStats:
        branches: dict[str, BranchCounts] = {}
        for name in dict.fromkeys(record.branch for record in self.records):
            mine = [record for record in self.records if record.branch == name]
            done = sum(record.computed for record in mine)
            branches[name] = BranchCounts(calls=len(mine), computed=done, skipped=len(mine) - done)
        computed = sum(record.computed for record in self.records)
        seconds = [(was_computed, timer.seconds()) for was_computed, timer in self._forward_timers]
        known = [(c, s) for c, s in seconds if s is not None]
        complete = len(known) == len(seconds) and bool(seconds)
        return CacheStats(
            method=self.method,
            run=self.run,
            num_steps=self.num_steps,
            calls=len(self.records),
            computed=computed,
            skipped=len(self.records) - computed,
            branches=branches,
            timeline=tuple(self.records),
            forwards=len(seconds),
            computed_forwards=sum(c for c, _ in seconds),
            denoiser_seconds=sum(s for _, s in known) if complete else None,
            computed_forward_seconds=sum(s for c, s in known if c) if complete else None,
            reused_forward_seconds=sum(s for c, s in known if not c) if complete else None,
            compute_saved=1.0 - self.computed_positions / self.plain_positions if self.plain_positions else None,
            **(self.extra() if self.extra is not None else {}),
        )
