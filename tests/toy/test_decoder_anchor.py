"""Anchoring a decoder fine-tune to the starting decoder on sampled latents (``train anchors``, ``--anchor-*``)."""

import json

import pytest
import torch
from mmcache.pipelines.toy import train
from mmcache.pipelines.toy.anchors import DecoderAnchor, load_anchors
from mmcache.pipelines.toy.common import save_atomically
from mmcache.pipelines.toy.captions import is_held_out, parse_caption
from mmcache.pipelines.toy.configs import build_vae
from mmcache.pipelines.toy.train_vae import disable_mid_attention


@pytest.fixture(scope="module")
def anchor_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("anchors") / "anchors.pt"
    latents = torch.randn(3, 8, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    save_atomically({"latents": latents, "captions": ["a"] * 3, "settings": {}}, path)
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
    anchor = DecoderAnchor([anchor_file], vae, crop=4, frames=2, batch=2, seed=0)
    assert anchor.batch_for(3).shape == (2, 8, 2, 4, 4)
    assert torch.equal(anchor.batch_for(3), anchor.batch_for(3))
    assert anchor.loss(vae, 3, torch.device("cpu")).item() == 0.0
    with torch.no_grad():
        vae.decoder.conv_out.bias.add_(0.1)
    assert anchor.loss(vae, 3, torch.device("cpu")).item() == pytest.approx(0.01, rel=1e-3)


def test_anchor_crops_that_do_not_fit_are_one_clear_error(anchor_file, tmp_path):
    with pytest.raises(SystemExit, match="do not fit the anchor latents"):
        DecoderAnchor([anchor_file], build_vae(), crop=9, frames=2, batch=1, seed=0)
    other = tmp_path / "other.pt"
    save_atomically({"latents": torch.zeros(1, 8, 2, 8, 8), "captions": ["a"], "settings": {}}, other)
    with pytest.raises(SystemExit, match="different shapes"):
        DecoderAnchor([anchor_file, other], build_vae(), crop=4, frames=2, batch=1, seed=0)
    with pytest.raises(FileNotFoundError, match="train anchors"):
        load_anchors(anchor_file.with_name("missing.pt"))


def test_anchor_latents_need_a_decoder_only_run(anchor_file, vae_folder, tmp_path):
    with pytest.raises(SystemExit, match="--decoder-only"):
        train.main(["vae", "--init", str(vae_folder), "--anchor-latents", str(anchor_file), "--out", str(tmp_path),
                    "--steps", "1"])


def _anchored_decoder(vae_folder, anchor_file, out, weight, *extra):
    train.main(["vae", "--init", str(vae_folder), "--decoder-only", "--crop", "16", "--clip-frames", "5",
                "--batch-size", "1", "--steps", "25", "--eval-every", "1000", "--eval-clips", "1", "--warmup", "1",
                "--lr", "1e-3", "--out", str(out), "--threads", "1", "--anchor-latents", str(anchor_file),
                "--anchor-weight", str(weight), "--anchor-crop", "4", "--anchor-frames", "2", *extra])
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"train"' in line]


def test_a_heavier_anchor_keeps_the_decoder_closer_to_where_it_started(anchor_file, vae_folder, tmp_path):
    free = _anchored_decoder(vae_folder, anchor_file, tmp_path / "free", 0.0)
    held = _anchored_decoder(vae_folder, anchor_file, tmp_path / "held", 100.0)
    assert free[-1]["anchor_mse"] > 0 and held[-1]["anchor_mse"] > 0
    assert held[-1]["anchor_mse"] < 0.5 * free[-1]["anchor_mse"]


def test_anchor_reference_names_the_decoder_the_anchor_keeps(anchor_file, vae_folder, tmp_path):
    torch.manual_seed(1)
    other = tmp_path / "other-vae"
    build_vae().save_pretrained(str(other))
    slow = ("--lr", "1e-7")  # the decoder barely moves: the anchor term is the distance to the reference
    own = _anchored_decoder(vae_folder, anchor_file, tmp_path / "own", 0.0, *slow)
    released = _anchored_decoder(vae_folder, anchor_file, tmp_path / "released", 0.0, *slow,
                                 "--anchor-reference", str(other))
    assert [row["mse"] for row in released] == [row["mse"] for row in own]  # weight 0: the same training
    assert released[0]["anchor_mse"] > 10 * own[0]["anchor_mse"]
    with pytest.raises(SystemExit, match="not an exported VAE folder"):
        _anchored_decoder(vae_folder, anchor_file, tmp_path / "bad", 1.0, "--anchor-reference", str(tmp_path))
    with pytest.raises(SystemExit, match="add --anchor-latents"):
        train.main(["vae", "--init", str(vae_folder), "--decoder-only", "--anchor-reference", str(other),
                    "--out", str(tmp_path / "none"), "--steps", "1"])


def test_sampling_anchors_uses_training_captions_and_continues_a_file(tmp_path):
    out = tmp_path / "anchors.pt"
    common = ["anchors", "--model", "toy-t2v", "--frames", "5", "--threads", "1", "--out", str(out)]
    train.main(common + ["--steps", "2", "--count", "1"])
    first = load_anchors(out)
    train.main(common + ["--steps", "2", "--count", "2"])
    both = load_anchors(out)
    assert both["latents"].shape == (2, 8, 2, 16, 16)
    assert torch.equal(both["latents"][0], first["latents"][0])
    assert not any(is_held_out(parse_caption(text)) for text in both["captions"])
    with pytest.raises(SystemExit, match="other settings"):
        train.main(common + ["--steps", "3", "--count", "3"])
    with pytest.raises(SystemExit, match="one video per training caption"):
        train.main(common + ["--steps", "2", "--count", "1000"])
