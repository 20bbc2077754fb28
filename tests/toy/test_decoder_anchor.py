"""Anchoring a decoder fine-tune to a reference decoder on sampled latents (``train anchors``, ``--anchor-*``)."""

import json

import pytest
import torch
from mmcache.pipelines.toy import train, train_vae
from mmcache.pipelines.toy.captions import is_held_out, parse_caption
from mmcache.pipelines.toy.configs import build_vae
from mmcache.pipelines.toy.train_vae import DecoderAnchor, disable_mid_attention, load_anchors
from mmcache.pipelines import training
from mmcache.pipelines.training import save_atomically


@pytest.fixture(scope="module")
def anchor_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("anchors") / "anchors.pt"
    latents = torch.randn(3, 8, 6, 10, 10, generator=torch.Generator().manual_seed(0))
    save_atomically({"latents": latents, "captions": ["a"] * 3}, path)
    return path


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vae")
    build_vae().save_pretrained(str(folder))
    return folder


def test_anchor_term_is_exactly_zero_for_the_starting_decoder_and_grows_when_it_changes(anchor_file):
    torch.manual_seed(0)
    vae = build_vae()
    disable_mid_attention(vae)
    anchor = DecoderAnchor(anchor_file, vae, seed=0)
    assert anchor.batch_for(3).shape == (train_vae.CROPS_PER_STEP, 8, train_vae.FRAMES, train_vae.CROP, train_vae.CROP)
    assert torch.equal(anchor.batch_for(3), anchor.batch_for(3))
    assert anchor.loss(vae, 3, torch.device("cpu")).item() == 0.0
    with torch.no_grad():
        vae.decoder.conv_out.bias.add_(0.1)
    assert anchor.loss(vae, 3, torch.device("cpu")).item() == pytest.approx(0.01, rel=1e-3)


def test_anchor_latents_too_small_for_a_crop_or_missing_are_one_clear_error(tmp_path):
    small = tmp_path / "small.pt"
    save_atomically({"latents": torch.zeros(1, 8, 2, 8, 8), "captions": ["a"]}, small)
    with pytest.raises(SystemExit, match="anchor crops need"):
        DecoderAnchor(small, build_vae(), seed=0)
    with pytest.raises(SystemExit, match="train anchors"):
        load_anchors(tmp_path / "missing.pt")


def test_anchor_latents_need_a_decoder_only_run(anchor_file, vae_folder, tmp_path):
    with pytest.raises(SystemExit, match="add --decoder-only"):
        train.main(["vae", "--init", str(vae_folder), "--anchor-latents", str(anchor_file), "--out", str(tmp_path),
                    "--steps", "1"])


def _anchored_decoder(vae_folder, anchor_file, out, weight, *extra, steps=25):
    train.main(["vae", "--init", str(vae_folder), "--decoder-only", "--crop", "16", "--clip-frames", "5",
                "--batch-size", "1", "--steps", str(steps), "--eval-every", "1000", "--eval-clips", "1", "--warmup", "1",
                "--lr", "1e-3", "--out", str(out), "--threads", "1", "--anchor-latents", str(anchor_file),
                "--anchor-weight", str(weight), *extra])
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"train"' in line]


def test_a_heavier_anchor_keeps_the_decoder_closer_to_where_it_started(anchor_file, vae_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "LOG_EVERY", 12)
    free = _anchored_decoder(vae_folder, anchor_file, tmp_path / "free", 0.0, steps=12)
    held = _anchored_decoder(vae_folder, anchor_file, tmp_path / "held", 100.0, steps=12)
    assert free[-1]["anchor_mse"] > 0 and held[-1]["anchor_mse"] > 0
    assert held[-1]["anchor_mse"] < 0.5 * free[-1]["anchor_mse"]


def test_anchor_reference_names_the_decoder_the_anchor_keeps(anchor_file, vae_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "LOG_EVERY", 1)
    torch.manual_seed(1)
    other = tmp_path / "other-vae"
    build_vae().save_pretrained(str(other))
    slow = ("--lr", "1e-7")  # the decoder barely moves: the anchor term is the distance to the reference
    own = _anchored_decoder(vae_folder, anchor_file, tmp_path / "own", 0.0, *slow, steps=3)
    released = _anchored_decoder(vae_folder, anchor_file, tmp_path / "released", 0.0, *slow,
                                 "--anchor-reference", str(other), steps=3)
    assert [row["mse"] for row in released] == [row["mse"] for row in own]  # weight 0: the same training
    assert released[0]["anchor_mse"] > 10 * own[0]["anchor_mse"]
    with pytest.raises(SystemExit, match="not an exported VAE folder"):
        _anchored_decoder(vae_folder, anchor_file, tmp_path / "bad", 1.0, "--anchor-reference", str(tmp_path), steps=1)
    with pytest.raises(SystemExit, match="add --anchor-latents"):
        train.main(["vae", "--init", str(vae_folder), "--decoder-only", "--anchor-reference", str(other),
                    "--out", str(tmp_path / "none"), "--steps", "1"])


def test_sampling_anchors_uses_training_captions(tmp_path, monkeypatch):
    out = tmp_path / "anchors.pt"
    monkeypatch.setattr(train_vae, "read_defaults", lambda folder: {"num_frames": 5, "num_inference_steps": 2,
                                                                   "height": 64, "width": 64, "guidance_scale": 5.0})
    train.main(["anchors", "--model", "toy-t2v", "--threads", "1", "--out", str(out), "--count", "2"])
    sampled = load_anchors(out)
    assert sampled["latents"].shape == (2, 8, 2, 16, 16)
    assert not any(is_held_out(parse_caption(text)) for text in sampled["captions"])
    with pytest.raises(SystemExit, match="one video per training caption"):
        train.main(["anchors", "--model", "toy-t2v", "--out", str(out), "--count", "1000"])
