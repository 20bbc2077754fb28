"""The adherence diagnosis: the decoder check measures what it says, and the caption spread covers the grammar."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLWan
from mmcache.pipelines.toy.captions import spread, train_specs
from mmcache.pipelines.toy.configs import NUM_FRAMES, SIZE
from mmcache.pipelines.toy.data import make_clip
from mmcache.pipelines.toy.diagnose import decoder_under_latent_noise
from mmcache.pipelines.toy.vae_utils import reconstruction_psnr

VAE = Path(__file__).resolve().parents[2] / "pipelines" / "toy" / "models" / "toy-t2v" / "vae"


def test_decoder_check_without_noise_is_the_reconstruction_psnr_and_noise_lowers_it():
    vae = AutoencoderKLWan.from_pretrained(str(VAE)).eval()
    clean, noisy = decoder_under_latent_noise(vae, clips=2, levels=(0.0, 2.0))
    frames = np.stack([make_clip(0, i, "held_out", NUM_FRAMES, SIZE).frames for i in range(2)])
    assert abs(clean["psnr_db"] - float(np.mean(reconstruction_psnr(vae, frames)))) < 1e-6
    assert noisy["psnr_db"] < clean["psnr_db"] - 1.0
    assert clean["clips"] == 2 and 0.0 <= noisy["colour"] <= 1.0


def test_spread_covers_every_colour_and_motion_of_the_training_captions():
    chosen = spread(train_specs(), 15)
    assert len(chosen) == 15 and len(set(chosen)) == 15
    assert {s.colour for s in chosen} == {s.colour for s in train_specs()}
    assert {s.motion for s in chosen} == {s.motion for s in train_specs()}


def test_region_errors_put_each_error_in_its_region():
    from mmcache.pipelines.toy.region_errors import region_errors, region_masks

    clip = make_clip(0, 3, "held_out", NUM_FRAMES, SIZE)
    masks = region_masks(clip)
    assert sum(mask.astype(int) for mask in masks.values()).max() == 1  # a partition of the pixels
    assert 0.02 < masks["interior"].mean() < 0.2
    exact = region_errors([clip], clip.frames[None])
    assert all(region["psnr_db"] == float("inf") and region["error_share"] == 0.0 for region in exact.values())
    recoloured = clip.frames.copy()
    recoloured[masks["interior"]] = 255 - recoloured[masks["interior"]]
    result = region_errors([clip], recoloured[None])
    assert result["interior"]["error_share"] == 1.0 and result["edge"]["psnr_db"] == float("inf")
    assert abs(sum(region["pixel_share"] for region in result.values()) - 1.0) < 1e-9


def test_diagnose_and_evaluate_refuse_an_unknown_model_with_one_usage_error(tmp_path, monkeypatch, capsys):
    from mmcache.pipelines.toy import diagnose, evaluate

    for module in (diagnose, evaluate):
        monkeypatch.setattr("sys.argv", [module.__name__, "--model", str(tmp_path), "--out", str(tmp_path / "out")])
        with pytest.raises(SystemExit) as exit_info:
            module.main()
        assert exit_info.value.code == 2
        assert "nor a saved pipeline folder" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()


def test_latent_words_separates_a_local_change_from_one_that_survives_averaging():
    from mmcache.pipelines.toy.latent_words import word_signal_in_latents

    vae = AutoencoderKLWan.from_pretrained(str(VAE)).eval()
    signal = word_signal_in_latents(vae, clips=6)
    assert set(signal) == {"motion", "colour", "shape"} and signal["motion"]["clips"] == 6
    for name, word in signal.items():
        assert word["local_rms"] > 0.05, name  # every swap changes the clip, so its latents
    share = {name: word["spatial_mean_rms"] / word["local_rms"] for name, word in signal.items()}
    # the motion word moves the object (a large local change) but hardly the position-averaged latent;
    # the colour word shifts that average (on the bundled VAE, 24 clips: 1.3 % against 17 % of the local change)
    assert share["motion"] < 0.05
    assert share["colour"] > 3 * share["motion"]


def test_clip_errors_find_the_bad_frame_the_bad_clip_and_a_missing_object():
    from mmcache.pipelines.toy.clip_errors import object_signal, per_frame_psnr, worst_clips
    from mmcache.pipelines.toy.region_errors import background_rgb

    vae = AutoencoderKLWan.from_pretrained(str(VAE)).eval()
    clips = [make_clip(0, i, "held_out", NUM_FRAMES, SIZE) for i in range(3)]
    decoded = np.stack([clip.frames for clip in clips])
    decoded[1, 4] = 255 - decoded[1, 4]  # one frame of one clip wrong
    frames = per_frame_psnr(clips, decoded)
    assert len(frames) == NUM_FRAMES and frames[4] < 20 and all(np.isinf(f) for i, f in enumerate(frames) if i != 4)
    worst = worst_clips(clips, decoded, count=2)
    assert [row["index"] for row in worst][0] == 1 and worst[0]["caption"] == clips[1].caption
    assert np.isinf(worst[1]["psnr_db"])
    signal = object_signal(vae, clips[0])
    assert len(signal) == (NUM_FRAMES - 1) // 4 + 1 and min(signal) > 0
    empty = dataclasses.replace(clips[0], frames=np.broadcast_to(background_rgb(clips[0]), clips[0].frames.shape).copy())
    assert max(object_signal(vae, empty)) == 0.0  # no object: the latents are the background's
    from mmcache.pipelines.toy.data import to_model_range
    from mmcache.pipelines.toy.vae_utils import encode_mean

    latents = encode_mean(vae, torch.from_numpy(to_model_range(clips[0].frames[None])))[0]
    assert object_signal(vae, clips[0], latents) == pytest.approx(signal, rel=1e-4)  # reused latents, same signal
