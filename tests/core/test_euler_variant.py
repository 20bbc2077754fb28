"""euler_variant: the same weights under a flow-matching Euler sampler with the model's shift."""

from pathlib import Path

import pytest
import torch
from diffusers import UniPCMultistepScheduler

from mmcache.pipelines.euler_variant import euler_variant, flow_shift
from mmcache.pipelines.loader import load


def test_unipc_pipeline_becomes_euler_with_the_same_shift_and_weights(tmp_path: Path) -> None:
    pipe = load("tiny:wan2.1-t2v")
    pipe.scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0)
    pipe.save_pretrained(str(tmp_path / "source"))
    variant = load(str(euler_variant(str(tmp_path / "source"), tmp_path / "euler")))
    assert type(variant.scheduler).__name__ == "FlowMatchEulerDiscreteScheduler"
    assert variant.scheduler.config.shift == 5.0
    original, copied = pipe.transformer.state_dict(), variant.transformer.state_dict()
    assert all(torch.equal(original[k], copied[k]) for k in original)


def test_in_memory_and_non_flow_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="saved pipeline folder"):
        euler_variant("tiny:wan2.1-t2v", tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="model_index.json"):
        euler_variant(str(tmp_path), tmp_path / "x")
    with pytest.raises(ValueError, match="not a flow-matching scheduler"):
        flow_shift({"_class_name": "DDIMScheduler"})
