"""The FlowCache metric analysis: changes paired per chunk and step within a window, a fit per metric."""

from __future__ import annotations

import json

import numpy as np
import torch

from mmcache.eval import flowcache_metrics
from mmcache.eval.flowcache_metrics import ChangeRecorder, fit


def test_changes_pair_consecutive_steps_and_never_cross_a_window():
    recorder = ChangeRecorder()
    for step, value in [(0, 1.0), (1, 2.0), (2, 3.0), (0, 10.0), (1, 5.0)]:  # the chunk's steps restart: a new window
        recorder("signal", "cond", 0, step, torch.full((2,), value))
        recorder("output", "cond", 0, step, torch.full((2,), 2 * value))
    x, y = recorder.pairs()
    assert sorted(x.tolist()) == [0.5, 0.5, 1.0] and sorted(y.tolist()) == [0.5, 0.5, 1.0]


def test_the_fit_recovers_a_polynomial_and_ranks():
    x = np.linspace(0.01, 0.2, 50)
    row = fit(x, 3 * x ** 2 + 0.5 * x, degree=2)
    assert np.allclose(row["rescale"], [3, 0.5, 0], atol=1e-6) and row["r2"] > 0.999 and row["spearman"] > 0.999


def test_the_tool_observes_the_exact_pipeline_on_a_tiny_model(tmp_path):
    rows = flowcache_metrics.main(["--model", "tiny:skyreels-v2-df-causal", "--prompts", "1", "--frames", "21",
                                   "--degree", "2", "--threads", "1", "--out", str(tmp_path)])
    assert set(rows) == {"modulation", "input", "rate"}
    assert all(row["pairs"] > 2 and len(row["rescale"]) == 3 for row in rows.values())
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored["metrics"]["input"]["pairs"] == rows["input"]["pairs"]
    assert "| modulation |" in (tmp_path / "metrics.md").read_text()
