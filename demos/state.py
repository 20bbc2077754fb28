"""What the demo keeps between requests: loaded pipelines, and baseline runs keyed by their settings.

Moving a method knob changes only the accelerated side, so the uncached baseline of a given
(model, prompt, negative prompt, seed, steps, size, frames, guidance) is generated once and then
served from ``BaselineCache``. Both caches are small LRUs and safe to use from several threads.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from mmcache.pipelines.generation import GenerationRequest, GenerationResult

from .outputs import OutputFolder

TIMING_RUNS = 3  # timed runs of each side of a comparison; the fastest counts
Key = TypeVar("Key")
Value = TypeVar("Value")


class LRU(Generic[Key, Value]):
    """A thread-safe mapping that keeps the ``capacity`` most recently used entries."""

    def __init__(self, capacity: int, on_evict: Callable[[Key, Value], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}.")
        self.capacity = capacity
        self._on_evict = on_evict
        self._entries: collections.OrderedDict[Key, Value] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Value | None:
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Key, value: Value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            evicted = []
            while len(self._entries) > self.capacity:
                evicted.append(self._entries.popitem(last=False))
        for old_key, old_value in evicted:
            if self._on_evict is not None:
                self._on_evict(old_key, old_value)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries


@dataclasses.dataclass
class LoadedModel:
    """A pipeline and the lock that lets one generation at a time run on it."""

    name: str
    pipe: Any
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    warmed_up: bool = False
    derived: dict[str, Any] = dataclasses.field(default_factory=dict)  # made once per load, e.g. a calibration file


class ModelCache:
    """Loads each model once (``loader(name)``) and keeps the ``capacity`` most recently used."""

    def __init__(self, loader: Callable[[str], Any], capacity: int = 2) -> None:
        self._loader = loader
        self._models: LRU[str, LoadedModel] = LRU(capacity)
        self._loading = threading.Lock()

    def get(self, name: str) -> LoadedModel:
        loaded = self._models.get(name)
        if loaded is not None:
            return loaded
        with self._loading:  # one load at a time; a second request for the same model waits for the first
            loaded = self._models.get(name)
            if loaded is None:
                pipe = self._loader(name)
                if hasattr(pipe, "set_progress_bar_config"):
                    pipe.set_progress_bar_config(disable=True)
                loaded = LoadedModel(name, pipe)
                self._models.put(name, loaded)
        return loaded

    def __contains__(self, name: object) -> bool:
        return name in self._models


class TimedRunner:
    """What the side-by-side tabs' runners share: the cached models, the folder their files go to and how many
    timed runs each side gets (the fastest counts)."""

    def __init__(self, models: ModelCache, outputs: OutputFolder | None = None,
                 timing_runs: int = TIMING_RUNS) -> None:
        self.models = models
        self.outputs = outputs if outputs is not None else OutputFolder()
        self.timing_runs = timing_runs

    def loaded(self, model: str, progress: Callable[[str], None]) -> LoadedModel:
        """``model`` from the cache, after ``progress("loading")`` when it must be loaded first."""
        if model not in self.models:
            progress("loading")
        return self.models.get(model)


@dataclasses.dataclass(frozen=True)
class BaselineKey:
    """Everything that determines the uncached baseline video."""

    model: str
    prompt: str
    negative_prompt: str | None
    seed: int
    steps: int | None
    height: int | None
    width: int | None
    frames: int | None
    guidance_scale: float | None

    @classmethod
    def of(cls, model: str, request: GenerationRequest) -> "BaselineKey":
        return cls(model, request.prompt, request.negative_prompt, int(request.seed), request.num_inference_steps,
                   request.height, request.width, request.num_frames, request.guidance_scale)


@dataclasses.dataclass(frozen=True)
class BaselineRun:
    """A finished baseline generation and its video file."""

    result: GenerationResult
    video: Path


class BaselineCache(LRU[BaselineKey, BaselineRun]):
    """Recent baselines; an evicted baseline's video file is deleted."""

    def __init__(self, capacity: int = 8) -> None:
        super().__init__(capacity, on_evict=lambda _key, run: run.video.unlink(missing_ok=True))
