"""VARPipeline: the call, its outputs and checks, save / load, the loader's names, top-k / top-p."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import mmcache.pipelines
from mmcache.pipelines.loader import ModelNotFoundError, bundled_path, model_source
from mmcache.pipelines.var import VARPipeline, build_tiny_var
from mmcache.pipelines.var.configs import TOY_DEFAULTS
from mmcache.pipelines.var.sampling import filter_top_k_top_p

PROMPT = "a green triangle on a gray background"


def images(pipe, **kwargs):
    return pipe(PROMPT, num_images=2, generator=torch.Generator().manual_seed(3), output_type="np", **kwargs).images


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_var()


def test_output_types_and_seeded_determinism(pipe):
    first = images(pipe)
    assert first.shape == (2, 16, 16, 3) and 0 <= first.min() and first.max() <= 1
    assert np.array_equal(first, images(pipe))
    assert not np.array_equal(first[0], first[1])
    pil = pipe(PROMPT, generator=torch.Generator().manual_seed(3)).images
    assert isinstance(pil[0], Image.Image) and pil[0].size == (16, 16)
    pt = pipe([PROMPT, "a red circle on a white background"], output_type="pt").images
    assert pt.shape == (2, 3, 16, 16)
    assert images(pipe, guidance_scale=1.0, top_k=3, top_p=0.9).shape == (2, 16, 16, 3)


def test_bad_requests_get_one_clear_error(pipe):
    with pytest.raises(ValueError, match="does not know \\(left, moving\\); use only: a on background"):
        pipe("a red circle moving left on a black background")
    with pytest.raises(TypeError, match="conditioned on captions"):
        pipe(3)
    with pytest.raises(ValueError, match="output_type"):
        pipe(PROMPT, output_type="latent")
    with pytest.raises(ValueError, match="guidance_scale"):
        pipe(PROMPT, guidance_scale=0.5)
    with pytest.raises(ValueError, match="num_images"):
        pipe(PROMPT, num_images=0)


def test_save_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path, defaults=TOY_DEFAULTS)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["_class_name"] == "VARPipeline" and set(index) == {"_class_name", "tokenizer", "transformer"}
    for part in ("tokenizer", "transformer"):
        assert (tmp_path / part / "diffusion_pytorch_model.safetensors").is_file()
        assert "_name_or_path" not in json.loads((tmp_path / part / "config.json").read_text())
    again = VARPipeline.from_pretrained(tmp_path)
    again.set_progress_bar_config(disable=True)
    assert np.array_equal(images(again), images(pipe))
    loaded = mmcache.pipelines.load(str(tmp_path), device="cpu")  # with the stored call defaults
    loaded.set_progress_bar_config(disable=True)
    assert loaded.mmcache_call_defaults == TOY_DEFAULTS
    assert np.array_equal(images(loaded), images(pipe))


def test_loader_names():
    tiny = mmcache.pipelines.load("tiny:var", device="cpu")
    assert isinstance(tiny, VARPipeline) and model_source("tiny:var") == "tiny"
    if (bundled_path("toy-var") / "model_index.json").is_file():
        assert model_source("toy-var") == "bundled"
    else:
        with pytest.raises(ModelNotFoundError, match="var.train recipe"):
            model_source("toy-var")
    with pytest.raises(FileNotFoundError, match="no saved VARPipeline"):
        VARPipeline.from_pretrained("/nonexistent")


def test_top_k_and_top_p_filters():
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().view(1, 1, 4)
    kept = lambda **kw: torch.isfinite(filter_top_k_top_p(logits, **kw)).flatten().tolist()  # noqa: E731
    assert kept(top_k=2) == [True, True, False, False]
    assert kept(top_p=0.7) == [True, True, False, False]
    assert kept(top_p=0.5) == [True, False, False, False]
    assert kept(top_k=3, top_p=0.99) == [True, True, True, False]
    assert kept() == [True] * 4
