"""Calibration files that `mmcache generate --method ertacache --calibration FILE` must refuse in one line.

Rows: ``cli(id, flags, exit code, message, setup=make_file("c.json", text))``, run like the generate
table (``generate --quiet --out {tmp}/v.mp4`` first); the file is ``{tmp}/c.json``. Every row is
refused while the file is read, before any model is loaded.
"""

from __future__ import annotations

from typing import Any

from .cases import BAD_INPUT, cli, json_editors, make_file

FLAGS = "--method ertacache --calibration {tmp}/c.json"


def valid() -> dict[str, Any]:
    """A well-formed calibration (4 steps, one branch of 2 latent channels, step 2 reused)."""
    return {
        "version": 2, "method": "ertacache",
        "target": {"pipeline_class": "WanPipeline", "denoiser_classes": ["WanTransformer3DModel"],
                   "denoiser_config_hashes": ["0123456789abcdef"], "scheduler_class": "UniPCMultistepScheduler"},
        "num_steps": 4, "latent_shapes": {"0:cond": [1, 2, 2, 4, 4]}, "generation": {"num_inference_steps": 4},
        "threshold": 0.1, "reuse_steps": [2], "time_scale": {}, "time_scale_unrectified": {},
        "rectification": {"0:cond": {"2": {"slope": [0.1, 0.2], "intercept": [0.0, 0.0]}}},
        "channel_dim": 1, "prompts": ["a red circle"], "seeds": [0], "first_step_branches": ["0:cond"],
        "diagnostics": {},
    }


changed, without = json_editors(valid)


def case(id: str, text: str, message: str) -> Any:
    return cli(id, FLAGS, BAD_INPUT, message, setup=make_file("c.json", text))


CALIBRATION_FILE_CASES = [
    case("not-json", "{not json", "not a valid mmcache calibration file (not JSON"),
    case("empty-file", "", "not a valid mmcache calibration file (not JSON"),
    case("json-list", "[]", "expected a JSON object, got list"),
    case("json-null", "null", "expected a JSON object, got NoneType"),
    case("json-number", "3", "expected a JSON object, got int"),
    case("old-version", changed("version", 1), "format version 1 is not supported"),
    case("no-version", without("version"), "format version None is not supported"),
    case("other-method", changed("method", "easycache"), "field method: Value error, must be one of ['ertacache']"),
    case("reuse-steps-text", changed("reuse_steps", "abc"), "field reuse_steps: Input should be a valid list"),
    case("reuse-step-text", changed("reuse_steps", ["a"]), "field reuse_steps.0: Input should be a valid integer"),
    case("reuse-step-out-of-range", changed("reuse_steps", [9]), "reuse_steps [9] are outside the 4 calibrated steps"),
    case("reuse-step-negative", changed("reuse_steps", [-1]), "reuse_steps [-1] are outside"),
    case("reuse-steps-repeated", changed("reuse_steps", [2, 2]), "reuse_steps has repeated steps"),
    case("nan-slope", changed("rectification.0:cond.2.slope", [float("nan"), 0.2]), "Input should be a finite number"),
    case("infinite-intercept", changed("rectification.0:cond.2.intercept", [0.0, float("inf")]),
         "Input should be a finite number"),
    case("slope-wrong-length", changed("rectification.0:cond.2.slope", [0.1, 0.2, 0.3]),
         "slope has 3 values but intercept 2"),
    case("slope-and-intercept-wrong-length", changed("rectification.0:cond.2",
                                                     {"slope": [0.1, 0.2, 0.3], "intercept": [0, 0, 0]}),
         "has 3 values; expected 1 or 2 (one per latent channel)"),
    case("slope-text", changed("rectification.0:cond.2.slope", "abc"), "Input should be a valid list"),
    case("rectification-unreused-step", changed("rectification.0:cond", {"1": {"slope": [0.1], "intercept": [0]}}),
         "rectification['0:cond']['1'] is not a reused step"),
    case("rectification-unknown-branch", changed("rectification", {"0:uncond": {}}),
         "rectification branch '0:uncond' has no entry in latent_shapes"),
    case("phi-above-one", changed("time_scale", {"2": 1.5}), "time_scale['2'] must belong to a reused step"),
    case("phi-unreused-step", changed("time_scale_unrectified", {"1": 0.5}), "time_scale_unrectified['1']"),
    case("threshold-negative", changed("threshold", -0.1), "field threshold: Input should be greater than 0"),
    case("threshold-text", changed("threshold", "0.1"), "field threshold"),
    case("num-steps-zero", changed("num_steps", 0), "field num_steps: Input should be greater than or equal to 1"),
    case("latent-shape-zero", changed("latent_shapes", {"0:cond": [1, 0, 2]}), "field latent_shapes.0:cond.1"),
    case("channel-dim-out-of-range", changed("channel_dim", 7), "channel_dim 7 does not index latents"),
    case("missing-target", without("target"), "field target: Field required"),
    case("target-not-object", changed("target", []), "field target"),
    case("unknown-field", changed("surprise", 1), "field surprise: Extra inputs are not permitted"),
    case("seeds-bool", changed("seeds", [True]), "field seeds.0: Input should be a valid integer"),
]
