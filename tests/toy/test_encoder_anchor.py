"""Fine-tuning the encoder too, anchored to the latent space the denoisers were trained on
(``train vae --encoder-anchor-weight``)."""

import json

import pytest
import torch
from diffusers import AutoencoderKLWan

from mmcache.pipelines.toy import train
from mmcache.pipelines.toy.configs import build_vae
from mmcache.pipelines.toy.train_vae import disable_mid_attention, encoder_anchor_mse, frozen_copy


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("vae")
    build_vae().save_pretrained(str(folder))
    return folder


def test_encoder_anchor_is_zero_for_the_starting_encoder_and_grows_when_it_changes():
    torch.manual_seed(0)
    vae = build_vae()
    disable_mid_attention(vae)
    reference = frozen_copy(vae)
    video = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    assert encoder_anchor_mse(reference, vae.encode(video).latent_dist.mean, video).item() == 0.0
    with torch.no_grad():
        vae.quant_conv.bias[: vae.config.z_dim].add_(0.1)
    moved = encoder_anchor_mse(reference, vae.encode(video).latent_dist.mean, video)
    assert moved.item() == pytest.approx(0.01, rel=1e-3)


def _encoder_run(vae_folder, out, weight):
    train.main(["vae", "--init", str(vae_folder), "--crop", "16", "--clip-frames", "5", "--batch-size", "1",
                "--steps", "25", "--eval-every", "1000", "--eval-clips", "1", "--warmup", "1", "--lr", "1e-3",
                "--out", str(out), "--threads", "1", "--encoder-anchor-weight", str(weight)])
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"train"' in line]


def _encoder_change(vae_folder, out) -> float:
    start = AutoencoderKLWan.from_pretrained(str(vae_folder)).encoder.state_dict()
    trained = AutoencoderKLWan.from_pretrained(str(out / "vae")).encoder.state_dict()
    return sum(float((trained[name] - start[name]).abs().sum()) for name in start)


def test_encoder_trains_and_a_heavier_anchor_keeps_its_latents_closer(vae_folder, tmp_path):
    light = _encoder_run(vae_folder, tmp_path / "light", 1e-3)
    heavy = _encoder_run(vae_folder, tmp_path / "heavy", 1e3)
    assert _encoder_change(vae_folder, tmp_path / "light") > 0  # the encoder is no longer frozen
    assert not any("kl" in row for row in light)  # posterior means, no KL term
    assert heavy[-1]["encoder_anchor_mse"] < 0.5 * light[-1]["encoder_anchor_mse"]


def test_encoder_anchor_needs_an_exported_vae_and_a_full_run(vae_folder, tmp_path):
    with pytest.raises(SystemExit, match="--init"):
        train.main(["vae", "--encoder-anchor-weight", "1", "--out", str(tmp_path / "a"), "--steps", "1"])
    with pytest.raises(SystemExit, match="leave out --decoder-only"):
        train.main(["vae", "--init", str(vae_folder), "--decoder-only", "--encoder-anchor-weight", "1",
                    "--out", str(tmp_path / "b"), "--steps", "1"])
    with pytest.raises(SystemExit, match="0 or more"):
        train.main(["vae", "--init", str(vae_folder), "--encoder-anchor-weight", "-1", "--out", str(tmp_path / "c"),
                    "--steps", "1"])
