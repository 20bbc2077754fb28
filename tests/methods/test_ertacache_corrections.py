"""ERTACache's corrections improve on plain reuse of the same schedule, on the reference model.

Uses the bundled ``toy-t2v`` model when its weights are present (the claim is only meaningful on
trained weights), under a flow-matching Euler sampler (it ships Wan's UniPC; the timestep adjustment
is defined on Euler steps), and the tiny random Wan pipeline (Euler already) otherwise, so that the
code path stays tested.

Calibration uses 4 training captions spread over the grammar (every background), as the Pareto
benchmark does, and fidelity is averaged over 8 held-out prompts: per prompt the corrections' effect
ranges from about −1 to +4.4 dB, so 2 prompts could not measure a mean gain of about 1 dB (docs/METHODS.md,
"How many prompts").
"""

from __future__ import annotations

import numpy as np
import pytest

import mmcache
from mmcache.eval.ertacache_corrections import psnr_by_variant, variant_configs
from mmcache.eval.pareto_step_methods import calibration_prompts, held_out_prompts
from mmcache.pipelines.euler_variant import euler_variant
from mmcache.pipelines.generation import GenerationRequest, calibration_arguments
from mmcache.pipelines.loader import bundled_path, generation_defaults, load

MODEL = "toy-t2v" if (bundled_path("toy-t2v") / "model_index.json").is_file() else "tiny:wan2.1-t2v"
CALIBRATION_PROMPTS = calibration_prompts(4)  # training captions, evenly spread: all three backgrounds
TEST_PROMPTS = held_out_prompts(8)
STEPS = 20


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model = MODEL if MODEL.startswith("tiny:") else str(euler_variant(MODEL, tmp_path_factory.mktemp("euler") / "m"))
    pipe = load(model, device="cpu")
    pipe.set_progress_bar_config(disable=True)
    defaults = {**generation_defaults(MODEL), "num_inference_steps": STEPS}
    settings = calibration_arguments(pipe, GenerationRequest(prompt="x").with_defaults(defaults))
    calibration = mmcache.calibrate(pipe, prompts=CALIBRATION_PROMPTS, seeds=[0], threshold=0.15, progress=False,
                                    **settings)
    return pipe, defaults, calibration


def test_full_method_beats_plain_reuse_and_each_correction_is_measured(setup):
    pipe, defaults, calibration = setup
    assert 0 < len(calibration.reuse_steps) < STEPS - 1
    assert calibration.time_scale, "toy models use a flow-matching Euler sampler"
    configs = {**variant_configs(calibration),
               "none": [mmcache.ERTACacheConfig(calibration, rectification=False, time_adjustment=False)]}
    mean = {name: float(np.mean(values)) for name, values in psnr_by_variant(pipe, defaults, configs,
                                                                               TEST_PROMPTS).items()}
    print(f"{MODEL}: plain {mean['plain']:.2f} dB, +rectification {mean['rectification']:.2f}, "
          f"+time adjustment {mean['time adjustment']:.2f}, full {mean['both']:.2f} "
          f"({len(calibration.reuse_steps)}/{STEPS} steps reused)")
    assert mean["none"] == pytest.approx(mean["plain"], abs=1e-6), "without corrections ERTACache is plain reuse"
    assert mean["both"] > mean["plain"]
    assert mean["rectification"] != pytest.approx(mean["plain"], abs=1e-3), "rectification changes the output"
    assert mean["time adjustment"] != pytest.approx(mean["plain"], abs=1e-3), "time adjustment changes the output"
