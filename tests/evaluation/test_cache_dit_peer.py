"""cache-dit's DBCache as a peer: specs, real reuse on the reference model, and a clean disable."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mmcache.eval.errors import EvalError
from mmcache.eval.methods import resolve_methods
from mmcache.eval.peers import PEERS
from mmcache.pipelines.generation import GenerationRequest, run_generation
from mmcache.pipelines.loader import generation_defaults, load
from mmcache.quality import psnr

from .helpers import model_args

PEER = PEERS["cache-dit"]
STEPS = 12


def test_cache_dit_is_installed_with_the_eval_extra() -> None:
    assert PEER.unavailable_reason() is None, "pip install -e '.[dev]' installs cache-dit"


def test_calibrator_fields_go_to_the_calibrator_config() -> None:
    [_, method] = resolve_methods(["cache-dit:Fn_compute_blocks=1,residual_diff_threshold=0.2,max_warmup_steps=5,"
                                   "calibrator=taylorseer,taylorseer_order=2"])
    configs = PEER.configs(method.params, steps=30)
    cache, calibrator = configs["cache_config"], configs["calibrator_config"]
    assert (cache.Fn_compute_blocks, cache.residual_diff_threshold, cache.max_warmup_steps) == (1, 0.2, 5)
    assert cache.num_inference_steps == 30
    assert type(calibrator).__name__ == "TaylorSeerCalibratorConfig" and calibrator.taylorseer_order == 2
    [_, plain] = resolve_methods(["cache-dit:Fn_compute_blocks=2"])
    assert "calibrator_config" not in PEER.configs(plain.params, steps=30)


@pytest.mark.parametrize("spec, message", [
    ("cache-dit:Fn_blocks=1", "cache-dit has no parameter(s) ['Fn_blocks']"),
    ("cache-dit:taylorseer_order=2", "beside a calibrator, the fields of its config"),
    ("cache-dit:calibrator=magic", "calibrator must be one of"),
    ("cache-dit:residual_diff_threshold=fast", "residual_diff_threshold must be a number"),
    ("cache-dit:cache_type=DBPrune", "cache-dit has no parameter(s) ['cache_type']"),
])
def test_bad_cache_dit_specs_give_one_clear_error(spec: str, message: str) -> None:
    with pytest.raises(EvalError, match=re.escape(message)):
        resolve_methods([spec])


@pytest.fixture(scope="module")
def pipe():
    pipe = load("toy-t2v", device="cpu")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _generate(pipe, spec: str | None = None):
    request = GenerationRequest(prompt="a red circle moving left on a black background", num_inference_steps=STEPS)
    request = request.with_defaults(generation_defaults("toy-t2v"))
    accelerator = None
    if spec is not None:
        [_, method] = resolve_methods([spec])
        accelerator = PEER.accelerator(method.params, STEPS)
    return run_generation(pipe, request, accelerator=accelerator, measure_compute=True)


@pytest.fixture(scope="module")
def baseline(pipe):
    """The uncached generation every DBCache run is compared with (read only)."""
    return _generate(pipe)


@pytest.mark.parametrize("calibrator", ["", ",calibrator=taylorseer"])
def test_dbcache_skips_blocks_and_disables_cleanly(pipe, baseline, calibrator: str) -> None:
    spec = "cache-dit:Fn_compute_blocks=1,max_warmup_steps=2" + calibrator
    never = _generate(pipe, f"{spec},residual_diff_threshold=0")
    assert np.array_equal(never.frames, baseline.frames), "a threshold of 0 must reuse nothing"
    assert never.denoiser_macs == baseline.denoiser_macs

    cached = _generate(pipe, f"{spec},residual_diff_threshold=0.3")
    saved = 1 - cached.denoiser_macs / baseline.denoiser_macs
    # 10 of 12 steps may be cached, each running 1 of 6 blocks: at most ~69 % of the block work is saved
    assert 0.2 < saved < 0.7
    assert psnr(cached.frames, baseline.frames) > 15  # measured: 23.2 dB plain, 19.5 dB with TaylorSeer (40.6 % saved)
    assert not np.array_equal(cached.frames, baseline.frames)

    transformer = pipe.transformer
    assert not hasattr(transformer, "_original_forward") and not hasattr(type(pipe), "_original_call")
    again = _generate(pipe)
    assert np.array_equal(again.frames, baseline.frames), "disabling must restore the uncached pipeline"


def test_mmcache_eval_measures_the_compute_cache_dit_saves(tmp_path: Path) -> None:
    from mmcache.cli.main import main

    out = tmp_path / "run"
    spec = "cache-dit:Fn_compute_blocks=1,residual_diff_threshold=0.5,max_warmup_steps=1"
    code = main(["eval", *model_args(), "--limit-prompts", "1", "--vbench", "off", "--quiet", "--out", str(out),
                 "--measure-compute", "--methods", spec])
    assert code == 0
    summary = json.loads((out / "results.json").read_text())["summary"]
    [label] = [label for label in summary if label.startswith("cache-dit")]
    assert summary[label]["done"] == 1 and summary[label]["calls_saved"] is None
    assert 0.1 < summary[label]["compute_saved"] < 0.8  # blocks skipped inside the calls are counted
