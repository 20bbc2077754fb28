"""The baseline and model caches: bounded, least recently used first out, loading each model once."""

from __future__ import annotations

import threading

from mmcache.demos.state import LRU, BaselineCache, BaselineKey, BaselineRun, ModelCache
from mmcache.pipelines.generation import GenerationRequest


def test_lru_evicts_the_least_recently_used():
    evicted = []
    cache = LRU(2, on_evict=lambda key, value: evicted.append(key))
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert evicted == ["b"] and "a" in cache and "c" in cache and len(cache) == 2


def test_baseline_key_ignores_nothing_that_changes_the_baseline():
    request = GenerationRequest(prompt="p", seed=1, num_inference_steps=6, height=16, width=16, num_frames=5,
                                guidance_scale=5.0)
    key = BaselineKey.of("m", request)
    assert key == BaselineKey.of("m", GenerationRequest(**vars(request)))
    for change in ({"seed": 2}, {"prompt": "q"}, {"negative_prompt": "n"}, {"num_inference_steps": 7},
                   {"height": 32}, {"width": 32}, {"num_frames": 9}, {"guidance_scale": 1.0}):
        assert BaselineKey.of("m", GenerationRequest(**{**vars(request), **change})) != key
    assert BaselineKey.of("other", request) != key


def test_evicted_baselines_delete_their_video(tmp_path):
    cache = BaselineCache(capacity=1)
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    first.write_bytes(b"x")
    second.write_bytes(b"y")
    cache.put("a", BaselineRun(None, first))  # type: ignore[arg-type]
    cache.put("b", BaselineRun(None, second))  # type: ignore[arg-type]
    assert not first.exists() and second.exists()


class FakePipe:
    def set_progress_bar_config(self, **_kwargs):
        pass


def test_each_model_is_loaded_once_even_when_requested_concurrently():
    loads = []

    def loader(name):
        loads.append(name)
        return FakePipe()

    models = ModelCache(loader)
    threads = [threading.Thread(target=models.get, args=("m",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["m"] and models.get("m").pipe is models.get("m").pipe
