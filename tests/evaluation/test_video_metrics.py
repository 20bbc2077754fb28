"""VBench's temporal flickering, the dynamic-degree proxy, LPIPS availability, adherence."""

from __future__ import annotations

import numpy as np
import pytest

from mmcache.eval.metrics import lpips_metric
from mmcache.eval.metrics.adherence import score_adherence
from mmcache.eval.metrics.flicker import read_frames_like_vbench, temporal_flickering, temporal_flickering_of_frames
from mmcache.eval.metrics.motion_proxy import is_dynamic
from mmcache.video import write_mp4


def test_flickering_score_of_known_frames():
    still = np.full((6, 8, 8, 3), 100, np.uint8)
    assert temporal_flickering_of_frames(still) == 1.0
    alternating = np.stack([np.full((8, 8, 3), 100 + 51 * (i % 2), np.uint8) for i in range(5)])
    assert temporal_flickering_of_frames(alternating) == pytest.approx((255 - 51) / 255, abs=1e-7)
    half = alternating.copy()
    half[1::2, :, :4] = 100  # half the pixels change by 51 -> mean absolute difference 25.5
    assert temporal_flickering_of_frames(half) == pytest.approx((255 - 25.5) / 255, abs=1e-7)


def test_flickering_of_a_file_reads_it_as_vbench_does(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    path = write_mp4(frames, tmp_path / "v.mp4")
    decoded = read_frames_like_vbench(path)
    assert len(decoded) == 6 and decoded[0].shape == (32, 32, 3)
    assert temporal_flickering(path) == temporal_flickering_of_frames(decoded)
    assert 0.0 < temporal_flickering(path) < 1.0


def test_dynamic_degree_proxy_separates_moving_from_still():
    frames = np.zeros((8, 64, 64, 3), np.uint8)
    for t in range(8):
        frames[t, 24:40, 4 + 6 * t:20 + 6 * t] = 255
    assert is_dynamic(frames)
    assert not is_dynamic(np.repeat(frames[:1], 8, axis=0))


def test_lpips_is_unavailable_without_its_package_or_weights(monkeypatch, tmp_path):
    status = lpips_metric.lpips_availability()
    if status.available:
        pytest.skip("LPIPS weights are present on this machine")
    assert "not installed" in status.reason or "not in the torch hub cache" in status.reason
    # Package present but AlexNet weights absent: still unavailable, and nothing is downloaded.
    package = tmp_path / "lpips"
    (package / "weights" / "v0.1").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "weights" / "v0.1" / "alex.pth").write_bytes(b"")

    class Spec:
        origin = str(package / "__init__.py")

    monkeypatch.setattr(lpips_metric.importlib.util, "find_spec", lambda name: Spec())
    monkeypatch.setattr(lpips_metric, "alexnet_weights_path", lambda: tmp_path / "absent.pth")
    status = lpips_metric.lpips_availability()
    assert not status.available and "never downloaded" in status.reason


def test_adherence_uses_the_reference_detector():
    data = pytest.importorskip("mmcache.pipelines.toy.data")
    clip = data.make_clip(seed=0, index=0, num_frames=17, size=64)
    result = score_adherence(clip.frames, clip.caption)
    assert result["available"] and result["ok"] is True and result["colour_ok"] is True
    assert result["details"]["caption"] == clip.caption
    other = "purple" if clip.spec.colour != "purple" else "red"
    wrong = score_adherence(clip.frames, clip.caption.replace(clip.spec.colour, other, 1))
    assert wrong["available"] and wrong["ok"] is False and wrong["colour_ok"] is False


def test_adherence_is_unavailable_outside_the_grammar_or_without_the_detector(monkeypatch):
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    result = score_adherence(frames, "A 3D model of a 1800s victorian house.")
    assert result["available"] is False and result["reason"]
    from mmcache.eval.metrics import adherence

    def missing():
        raise ImportError("No module named 'mmcache.pipelines.toy.detector'")

    monkeypatch.setattr(adherence, "_detector", missing)
    result = score_adherence(frames, "a red circle moving left")
    assert result == {"available": False, "reason": result["reason"]} and "not available" in result["reason"]


def test_lpips_scorer_feeds_frames_in_zero_one_with_normalize(monkeypatch):
    """The wiring of LPIPS, with a stand-in network (the real weights are not on test machines)."""
    import sys
    import types

    import torch

    seen = {}

    class FakeLPIPS(torch.nn.Module):
        def __init__(self, net, verbose):
            super().__init__()
            seen["net"] = net

        def forward(self, a, b, normalize=False):
            seen["normalize"], seen["shape"], seen["max"] = normalize, tuple(a.shape), float(a.max())
            return (a - b).abs().mean(dim=(1, 2, 3), keepdim=True)

    import importlib.machinery

    fake = types.ModuleType("lpips")
    fake.__spec__ = importlib.machinery.ModuleSpec("lpips", None)
    fake.LPIPS = FakeLPIPS
    monkeypatch.setitem(sys.modules, "lpips", fake)
    from mmcache.eval.metrics.suite import MetricSuite

    suite = MetricSuite()
    suite.lpips_status = lpips_metric.AVAILABLE
    video = np.full((3, 16, 16, 3), 255, np.uint8)
    reference = np.zeros_like(video)
    scores = suite.fidelity(video, reference)
    assert scores["lpips"] == pytest.approx(1.0)
    assert seen == {"net": "alex", "normalize": True, "shape": (3, 3, 16, 16), "max": 1.0}
