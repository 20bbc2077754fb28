"""Training toy-var's stages: a 2-step smoke run of each, exact resume, export, install, the recipe."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import mmcache
from mmcache.families.registry import resolve_var

from mmcache.pipelines.var import VARPipeline, train

FAST = ["--tiny", "--batch-size", "2", "--threads", "1", "--warmup", "1"]


@pytest.fixture(scope="module")
def tokenizer_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tokenizer"
    train.main(["tokenizer", "--out", str(out), "--steps", "2", "--restart-every", "1", *FAST])
    return out


def transformer(out, tokenizer_run, *extra):
    train.main(["transformer", "--out", str(out), "--tokenizer", str(tokenizer_run / "tokenizer"), "--steps", "2",
                *FAST, *extra])
    return out / "pipeline"


def test_two_steps_of_each_stage_export_a_working_pipeline(tokenizer_run, tmp_path):
    assert (tokenizer_run / "tokenizer" / "config.json").is_file()
    pipe = VARPipeline.from_pretrained(transformer(tmp_path / "transformer", tokenizer_run))
    pipe.set_progress_bar_config(disable=True)
    out = pipe("a red circle on a black background", generator=torch.Generator().manual_seed(0), output_type="np")
    assert out.images.shape == (1, 16, 16, 3)
    installed = train.install(tmp_path / "transformer" / "pipeline", models_dir=tmp_path / "models")
    assert installed == tmp_path / "models" / "toy-var" and (installed / "mmcache_defaults.json").is_file()
    presets = json.loads((installed / "mmcache_defaults.json").read_text())["method_presets"]
    assert presets["hack"] == {"budget": 0.3, "calibration": "hack_calibration.json", "contextual_ratio": 0.75,
                               "merge_evicted": True}
    mmcache.HACKCalibration.load(installed / "hack_calibration.json").check(resolve_var(pipe))
    assert train.install(installed, models_dir=tmp_path / "models") == installed  # the installed folder as source
    assert (installed / "mmcache_defaults.json").is_file()


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tokenizer_run, tmp_path):
    straight = transformer(tmp_path / "straight", tokenizer_run)
    transformer(tmp_path / "chunked", tokenizer_run, "--chunk-steps", "1")
    assert not (tmp_path / "chunked" / "pipeline").exists()
    chunked = transformer(tmp_path / "chunked", tokenizer_run, "--chunk-steps", "1")
    weights = "transformer/diffusion_pytorch_model.safetensors"
    a, b = load_file(straight / weights), load_file(chunked / weights)
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_recipe_lists_both_stages(tmp_path, capsys):
    train.main(["recipe", "--root", str(tmp_path), "--print"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in lines] == ["tokenizer", "transformer"]
    assert f"--tokenizer {tmp_path}/tokenizer/tokenizer" in lines[1]


def test_wrong_sources_are_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(["transformer", "--out", str(tmp_path / "t"), "--tokenizer", str(tmp_path), *FAST])
    with pytest.raises(SystemExit):
        train.main(["install", str(tmp_path)])
    assert "holds no exported VAR pipeline" in capsys.readouterr().err
