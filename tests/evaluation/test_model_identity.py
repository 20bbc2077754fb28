"""A run folder records which weights its model name stood for, so a new release is not mixed with old results."""

from __future__ import annotations

import pytest

from mmcache.eval import model_identity
from mmcache.eval.errors import EvalError
from mmcache.eval.plan import EvalSettings, run_config
from mmcache.eval.store import ResultStore
from mmcache.pipelines.loader import pipeline_folder


def _pipeline(folder, weights: bytes):
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    (folder / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(weights)
    return folder


def test_the_digest_follows_the_files_and_not_the_folder(tmp_path):
    first = _pipeline(tmp_path / "a", b"weights-1")
    same = _pipeline(tmp_path / "b", b"weights-1")
    other = _pipeline(tmp_path / "c", b"weights-2")
    assert model_identity.folder_digest(first) == model_identity.folder_digest(same)
    assert model_identity.folder_digest(first) != model_identity.folder_digest(other)
    assert model_identity.model_weights_digest(str(first)) == model_identity.folder_digest(first)
    assert model_identity.model_weights_digest("some-org/some-hub-model") is None


def test_large_files_are_identified_by_size_head_and_tail(tmp_path, monkeypatch):
    monkeypatch.setattr(model_identity, "FULL_HASH_LIMIT", 8)
    monkeypatch.setattr(model_identity, "SAMPLE", 4)
    digests = {model_identity.folder_digest(_pipeline(tmp_path / name, data))
               for name, data in (("a", b"head-middle-tail"), ("b", b"head-MIDDLE-tail"), ("c", b"HEAD-middle-tail"))}
    assert len(digests) == 2  # the middle of a large file is not read; its head is


def test_the_bundled_model_is_digested_and_a_changed_release_needs_force(tmp_path):
    if not (pipeline_folder("toy-t2v") / "model_index.json").is_file():
        pytest.skip("bundled toy-t2v not present")
    settings = EvalSettings(model="toy-t2v", steps=2)
    config = run_config(settings, ("a prompt",), (0,))
    assert config["model_weights"] == model_identity.folder_digest(pipeline_folder("toy-t2v"))
    store = ResultStore(str(tmp_path / "run"))
    store.adopt_run_config({**config, "model_weights": "an-older-release"}, force=False)
    with pytest.raises(EvalError, match="model_weights"):
        store.adopt_run_config(config, force=False)
    store.adopt_run_config(config, force=True)
