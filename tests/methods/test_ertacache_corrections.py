"""ERTACache's corrections improve on plain reuse of the same schedule, on the reference model.

Uses the bundled ``toy-t2v`` model when its weights are present (the claim is only meaningful on
trained weights), under a flow-matching Euler sampler (it ships Wan's UniPC; the timestep adjustment
is defined on Euler steps), and the tiny random Wan pipeline (Euler already) otherwise, so that the
code path stays tested.
"""

from __future__ import annotations

import numpy as np
import pytest

import mmcache
from mmcache.pipelines.euler_variant import euler_variant
from mmcache.pipelines.generation import GenerationRequest, call_arguments, run_generation
from mmcache.pipelines.loader import bundled_path, generation_defaults, load
from mmcache.quality import psnr

MODEL = "toy-t2v" if (bundled_path("toy-t2v") / "model_index.json").is_file() else "tiny:wan2.1-t2v"
CALIBRATION_PROMPTS = ["a red circle moving left on a black background", "a blue square moving up on a black background",
                       "a green triangle moving right on a black background"]
TEST_PROMPTS = ["a yellow circle moving down on a black background", "a purple square moving left on a black background"]
STEPS = 20


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model = MODEL if MODEL.startswith("tiny:") else str(euler_variant(MODEL, tmp_path_factory.mktemp("euler") / "m"))
    pipe = load(model, device="cpu")
    pipe.set_progress_bar_config(disable=True)
    defaults = {**generation_defaults(MODEL), "num_inference_steps": STEPS}
    kwargs = call_arguments(pipe, GenerationRequest(prompt="x").with_defaults(defaults))
    for key in ("prompt", "output_type"):
        kwargs.pop(key)
    calibration = mmcache.calibrate(pipe, prompts=CALIBRATION_PROMPTS, seeds=[0], threshold=0.15, progress=False,
                                    **kwargs)
    return pipe, defaults, calibration


def mean_psnr(pipe, defaults, configs) -> float:
    values = []
    for index, prompt in enumerate(TEST_PROMPTS):
        request = GenerationRequest(prompt=prompt, seed=100 + index).with_defaults(defaults)
        baseline = run_generation(pipe, request).frames
        values.append(psnr(run_generation(pipe, request, configs).frames, baseline))
    return float(np.mean(values))


def test_full_method_beats_plain_reuse_and_each_correction_is_measured(setup):
    pipe, defaults, calibration = setup
    assert 0 < len(calibration.reuse_steps) < STEPS - 1
    assert calibration.time_scale, "toy models use a flow-matching Euler sampler"
    plain = mean_psnr(pipe, defaults, [mmcache.ReuseScheduleConfig(tuple(calibration.reuse_steps))])
    none = mean_psnr(pipe, defaults, [mmcache.ERTACacheConfig(calibration, rectification=False,
                                                              time_adjustment=False)])
    rectified = mean_psnr(pipe, defaults, [mmcache.ERTACacheConfig(calibration, time_adjustment=False)])
    adjusted = mean_psnr(pipe, defaults, [mmcache.ERTACacheConfig(calibration, rectification=False)])
    full = mean_psnr(pipe, defaults, [mmcache.ERTACacheConfig(calibration)])
    print(f"{MODEL}: plain {plain:.2f} dB, +rectification {rectified:.2f}, +time adjustment {adjusted:.2f}, "
          f"full {full:.2f} ({len(calibration.reuse_steps)}/{STEPS} steps reused)")
    assert none == pytest.approx(plain, abs=1e-6), "without corrections ERTACache is plain reuse"
    assert full > plain
    assert rectified != pytest.approx(plain, abs=1e-3) and adjusted != pytest.approx(plain, abs=1e-3), \
        "each correction changes the output on its own"
