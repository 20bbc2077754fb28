"""Demo requests: every control's bad values, each refused with one message naming the control.

``REQUEST_CASES`` go through the app's ``/generate`` endpoint (Gradio's own preprocessing
included, so a value Gradio would round is seen as sent); ``MODEL_CASES`` need the loaded tiny
pipeline; ``KNOB_CASES`` are method knobs.
"""

from __future__ import annotations

import math

import pytest


def case(id: str, values: dict, message: str):
    return pytest.param(values, message, id=id)


REQUEST_CASES = [
    case("prompt-empty", {"prompt": ""}, "The prompt is empty"),
    case("prompt-blank", {"prompt": "   "}, "The prompt is empty"),
    case("prompt-too-long", {"prompt": "a" * 2001}, "keep it under 2000"),
    case("steps-fraction", {"steps": 2.5}, "steps must be a whole number, got 2.5"),
    case("steps-missing", {"steps": None}, "steps is required"),
    case("steps-text", {"steps": "many"}, "steps must be a whole number from 1 to 200"),
    case("steps-nan", {"steps": math.nan}, "steps must be a whole number from 1 to 200, got nan"),
    case("steps-zero", {"steps": 0}, "steps must be from 1 to 200, got 0"),
    case("steps-too-many", {"steps": 201}, "steps must be from 1 to 200, got 201"),
    case("seed-negative", {"seed": -1}, "seed must be from 0"),
    case("seed-fraction", {"seed": 1.5}, "seed must be a whole number, got 1.5"),
    case("height-fraction", {"height": 15.5}, "height must be a whole number"),
    case("height-too-small", {"height": 8}, "height must be from 16 to 2048"),
    case("width-too-large", {"width": 4096}, "width must be from 16 to 2048"),
    case("frames-zero", {"frames": 0}, "frames must be from 1 to 1025"),
    case("frames-fraction", {"frames": 4.5}, "frames must be a whole number"),
    case("guidance-nan", {"guidance_scale": math.nan}, "guidance scale must be a number, got nan"),
    case("guidance-inf", {"guidance_scale": math.inf}, "guidance scale must be a number, got inf"),
    case("guidance-negative", {"guidance_scale": -1}, "guidance scale must be from 0 to 50"),
    case("guidance-missing", {"guidance_scale": None}, "guidance scale is required"),
    case("model-empty", {"model": ""}, "Choose a model"),
    case("model-unknown", {"model": "owner/model"}, "Unknown model 'owner/model'"),
    case("model-tiny-unknown", {"model": "tiny:nope"}, "Unknown model 'tiny:nope'"),
    case("method-unknown", {"method": "magic"}, "magic is not in the list of choices"),  # Gradio's own check
    case("knob-threshold-negative", {"easycache_threshold": -0.5}, "less than minimum value 0.0"),
    case("knob-warmup-fraction", {"easycache_warmup_steps": 2.5}, "easycache warmup steps needs a whole number, got 2.5"),
    case("knob-final-steps-negative", {"easycache_final_steps": -1}, "final_steps"),
]

# (model, request overrides) checked against the loaded pipeline
MODEL_CASES = [
    case("width-not-multiple", {"model": "tiny:wan2.1-t2v", "width": 44}, "multiple of 16 for this model, got 44 (try 48)"),
    case("frames-not-4k-plus-1", {"model": "tiny:wan2.1-t2v", "frames": 7}, "frames must be 4·k + 1"),
    case("height-beyond-rope", {"model": "tiny:wan2.1-t2v", "height": 1024}, "at most 512"),
    case("image-needed", {"model": "i2v-without-image", "frames": 5}, "WanImageToVideoPipeline needs image"),
]

# (method, knob values) → message
KNOB_CASES = [
    pytest.param("easycache", {"easycache_threshold": "abc"}, "easycache threshold needs a number, got 'abc'",
                 id="threshold-text"),
    pytest.param("easycache", {"easycache_threshold": math.nan}, "easycache threshold needs a number, got nan",
                 id="threshold-nan"),
    pytest.param("easycache", {"easycache_threshold": None}, "easycache threshold needs a number, got None",
                 id="threshold-missing"),
    pytest.param("easycache", {"easycache_warmup_steps": True}, "easycache warmup steps needs a whole number",
                 id="warmup-bool"),
    pytest.param("easycache", {"easycache_warmup_steps": math.inf}, "easycache warmup steps needs a whole number",
                 id="warmup-inf"),
    pytest.param("ertacache", {"ertacache_time_adjustment": "maybe"}, "must be one of ['auto', 'on', 'off']",
                 id="tri-state-unknown"),
    pytest.param("ertacache", {"ertacache_calibration": "/no/such/file.json"}, "does not exist",
                 id="calibration-missing"),
    pytest.param("ertacache", {"ertacache_calibration": "/"}, "is not a file", id="calibration-folder"),
    pytest.param("schedule", {"schedule_reuse_steps": "1, x"}, "needs whole numbers separated by commas",
                 id="int-list-text"),
    pytest.param("magic", {}, "Unknown method 'magic'", id="method-unknown"),
]
