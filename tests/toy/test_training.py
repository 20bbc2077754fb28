"""Training plumbing on a tiny random latent set: exact padding trick, chunked resume, export, install,
and the recipe of the bundled models."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import SkyReelsV2Transformer3DModel, WanTransformer3DModel

from mmcache.pipelines import training
from mmcache.pipelines.toy import recipes, train
from mmcache.pipelines.toy.configs import FLOW_SHIFT, build_text_encoder, build_transformer, build_vae
from mmcache.pipelines.toy.denoiser import (
    encode,
    restore_processors,
    short_text_states,
    tokenize,
    use_padded_cross_attention,
)


def test_padded_cross_attention_equals_512_positions():
    torch.manual_seed(0)
    model, text = build_transformer().eval(), build_text_encoder().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        ids, mask = tokenize(["a red circle moving left", ""])
        x, t = torch.randn(2, 8, 5, 16, 16), torch.tensor([700.0, 30.0])
        full = model(x, t, encode(text, ids, mask), return_dict=False)[0]
        previous = use_padded_cross_attention(model)
        short = model(x, t, short_text_states(encode(text, ids, mask, ids.shape[1])), return_dict=False)[0]
        restore_processors(model, previous)
    assert torch.allclose(full, short, atol=1e-4)


@pytest.fixture(scope="module")
def latent_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("latents")
    rng = np.random.default_rng(0)
    captions = ["a red circle moving left on a black background", "a blue square moving up on a gray background"]
    np.savez(folder / "shard_00000.npz", latents=rng.standard_normal((4, 8, 7, 16, 16)).astype(np.float16),
             captions=np.array(captions * 2))
    (folder / "stats.json").write_text(json.dumps({"mean": [0.0] * 8, "std": [1.0] * 8, "count": 4}))
    build_vae().save_pretrained(str(folder / "vae"))
    return folder


def _t2v(latents, out, *extra):
    train.main(["t2v", "--latents", str(latents), "--out", str(out), "--steps", "4", "--batch-size", "2",
                "--threads", "1", *extra])


def _df(latents, init, out, *extra):
    train.main(["df", "--latents", str(latents), "--init", str(init), "--out", str(out), "--steps", "2",
                "--batch-size", "2", "--threads", "1", *extra])


def test_chunked_training_resumes_exactly_and_exports(latent_folder, tmp_path):
    _t2v(latent_folder, tmp_path / "whole")
    _t2v(latent_folder, tmp_path / "chunks", "--chunk-steps", "2")
    assert torch.load(tmp_path / "chunks" / "checkpoint.pt", weights_only=False)["step"] == 2
    _t2v(latent_folder, tmp_path / "chunks", "--chunk-steps", "2")
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "chunks" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 4
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"])
    assert (tmp_path / "whole" / "pipeline" / "model_index.json").is_file()
    _df(latent_folder, tmp_path / "whole" / "pipeline", tmp_path / "df", "--mode-weights", "0.2", "0.1", "0.2",
        "0.05", "0.45", "--start-windows-at-clip-start")
    assert (tmp_path / "df" / "pipeline" / "model_index.json").is_file()


def test_decoder_only_finetune_keeps_the_encoder(latent_folder, tmp_path):
    """Latents computed before a decoder fine-tune stay valid: encoder and quant_conv are untouched.

    (The random VAE here still has its mid-block attention, which training always disables.)
    """
    from diffusers import AutoencoderKLWan

    out = tmp_path / "decoder"
    train.main(["vae", "--init", str(latent_folder / "vae"), "--decoder-only", "--crop", "16", "--clip-frames", "5",
                "--batch-size", "1", "--steps", "2", "--eval-every", "1000", "--eval-clips", "1", "--warmup", "1",
                "--lr", "1e-2", "--out", str(out), "--threads", "1"])
    before = AutoencoderKLWan.from_pretrained(str(latent_folder / "vae")).state_dict()
    after = AutoencoderKLWan.from_pretrained(str(out / "vae")).state_dict()
    frozen = [k for k in before if k.startswith(("encoder.", "quant_conv.")) and ".attentions." not in k]
    trained = [k for k in before if k.startswith("decoder.") and not torch.equal(before[k], after[k])]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert trained, "the decoder did not change"


def test_decoder_ema_exports_the_average_and_logs_its_score(latent_folder, tmp_path):
    """With ``--ema-decay`` the exported decoder is the weight average, not the last weights."""
    import json

    from diffusers import AutoencoderKLWan

    out = tmp_path / "decoder"
    train.main(["vae", "--init", str(latent_folder / "vae"), "--decoder-only", "--crop", "16", "--clip-frames", "5",
                "--batch-size", "1", "--steps", "30", "--eval-every", "1000", "--eval-clips", "1", "--warmup", "1",
                "--lr", "1e-2", "--ema-decay", "0.9", "--l1-weight", "0", "--out", str(out), "--threads", "1"])
    exported = AutoencoderKLWan.from_pretrained(str(out / "vae")).state_dict()
    last = torch.load(out / "checkpoint.pt", weights_only=False)
    average = last["ema"]
    assert average and not any(k.startswith("encoder.") for k in average), "the frozen encoder was averaged"
    changed = [k for k in average if k.startswith("decoder.") and not torch.equal(average[k], last["model"][k])]
    assert changed, "the average equals the last weights: nothing was averaged"
    assert all(torch.equal(exported[k], average[k]) for k in changed)
    evals = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"eval"' in line]
    assert evals and "psnr" in evals[-1]
    with pytest.raises(SystemExit, match="with --ema-decay: resume it with the flag"):
        train.main(["vae", "--init", str(latent_folder / "vae"), "--decoder-only", "--out", str(out), "--steps", "40",
                    "--crop", "16", "--clip-frames", "5", "--batch-size", "1", "--threads", "1"])


def test_vae_rejects_bad_ema_and_l1(tmp_path):
    with pytest.raises(SystemExit, match="--ema-decay"):
        train.main(["vae", "--out", str(tmp_path), "--steps", "1", "--ema-decay", "1"])
    with pytest.raises(SystemExit, match="--l1-weight"):
        train.main(["vae", "--out", str(tmp_path), "--steps", "1", "--l1-weight", "-1"])


def test_decoder_only_needs_an_initial_vae(tmp_path):
    with pytest.raises(SystemExit, match="--init"):
        train.main(["vae", "--decoder-only", "--out", str(tmp_path), "--steps", "1"])


def test_patch_size_reaches_the_exported_t2v_and_the_df_started_from_it(latent_folder, tmp_path):
    _t2v(latent_folder, tmp_path / "t2v", "--patch-size", "2", "--steps", "1")
    exported = WanTransformer3DModel.from_pretrained(str(tmp_path / "t2v" / "pipeline" / "transformer"))
    assert tuple(exported.config.patch_size) == (1, 2, 2)
    _df(latent_folder, tmp_path / "t2v" / "pipeline", tmp_path / "df")
    df = SkyReelsV2Transformer3DModel.from_pretrained(str(tmp_path / "df" / "pipeline" / "transformer"))
    assert tuple(df.config.patch_size) == (1, 2, 2)


def _weights(folder, component):
    return (folder / component / "model.safetensors").read_bytes() if component == "text_encoder" else \
        (folder / component / "diffusion_pytorch_model.safetensors").read_bytes()


def test_init_continues_an_export_and_text_encoder_stays_frozen(latent_folder, tmp_path):
    _t2v(latent_folder, tmp_path / "first", "--patch-size", "2", "--steps", "1")
    first = tmp_path / "first" / "pipeline"
    _t2v(latent_folder, tmp_path / "frozen", "--init", str(first), "--text-encoder", str(first), "--steps", "2")
    frozen = tmp_path / "frozen" / "pipeline"
    assert _weights(frozen, "text_encoder") == _weights(first, "text_encoder")  # shared, bit for bit
    assert _weights(frozen, "transformer") != _weights(first, "transformer")  # trained on from the export
    continued = WanTransformer3DModel.from_pretrained(str(frozen / "transformer"))
    assert tuple(continued.config.patch_size) == (1, 2, 2)  # the patch comes from --init
    with pytest.raises(SystemExit, match="patch 2"):
        _t2v(latent_folder, tmp_path / "clash", "--init", str(first), "--patch-size", "4")


def test_train_shift_moves_only_the_training_noise_levels(latent_folder, tmp_path):
    _t2v(latent_folder, tmp_path / "default", "--steps", "2")
    _t2v(latent_folder, tmp_path / "shifted", "--steps", "2", "--train-shift", "8")
    default, shifted = tmp_path / "default" / "pipeline", tmp_path / "shifted" / "pipeline"
    assert _weights(shifted, "transformer") != _weights(default, "transformer")  # other σ, other updates
    schedulers = [json.loads((p / "scheduler" / "scheduler_config.json").read_text()) for p in (default, shifted)]
    assert schedulers[0]["flow_shift"] == schedulers[1]["flow_shift"] == FLOW_SHIFT  # sampling unchanged
    with pytest.raises(SystemExit, match="--train-shift must be > 0"):
        _t2v(latent_folder, tmp_path / "bad", "--train-shift", "0")


def test_df_init_accepts_a_bundled_name_or_says_what_to_pass(tmp_path):
    from mmcache.pipelines.loader import ModelNotFoundError, bundled_path
    from mmcache.pipelines.toy.denoiser import load_init

    transformer, text_encoder = load_init("toy-t2v")
    assert isinstance(transformer, SkyReelsV2Transformer3DModel) and text_encoder is not None
    bundled = WanTransformer3DModel.from_pretrained(str(bundled_path("toy-t2v") / "transformer")).state_dict()
    assert all(torch.equal(bundled[k], v) for k, v in transformer.state_dict().items())
    with pytest.raises(ModelNotFoundError, match="saved pipeline folder"):
        load_init(str(tmp_path))


def test_t2v_init_of_a_folder_without_a_pipeline_is_one_usage_error(latent_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _t2v(latent_folder, tmp_path / "run", "--init", str(tmp_path))
    assert exit_info.value.code == 2
    assert "saved pipeline folder" in capsys.readouterr().err


def test_clean_first_frame_gives_frame_zero_clean_with_no_loss_and_per_token_timesteps(latent_folder, tmp_path):
    from mmcache.pipelines.toy.denoiser import model_timesteps, sigmas_with_clean_first_frame

    sigmas, weight = sigmas_with_clean_first_frame(torch.tensor([0.9, 0.4]), 3, np.array([True, False]))
    assert torch.allclose(sigmas, torch.tensor([[0.0, 0.9, 0.9], [0.4, 0.4, 0.4]]))
    assert weight.tolist() == [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    timestep = model_timesteps(sigmas, torch.Size([2, 8, 3, 16, 16]), (1, 2, 2), diffusion_forcing=False)
    assert timestep.shape == (2, 3 * 64) and float(timestep[0, :64].abs().max()) == 0.0
    assert model_timesteps(sigmas, torch.Size([2, 8, 3, 16, 16]), (1, 2, 2), diffusion_forcing=True).shape == (2, 3)
    model = build_transformer(2).eval()  # per-token timesteps equal to one σ give the per-clip output
    x, text = torch.randn(1, 8, 3, 16, 16), torch.randn(1, 4, 64)
    with torch.no_grad():
        per_clip = model(x, torch.tensor([600.0]), text, return_dict=False)[0]
        per_token = model(x, torch.full((1, 3 * 64), 600.0), text, return_dict=False)[0]
    assert torch.allclose(per_clip, per_token, atol=1e-5)
    _t2v(latent_folder, tmp_path / "plain", "--steps", "2")
    _t2v(latent_folder, tmp_path / "given", "--steps", "2", "--clean-first-frame", "0.5")
    assert _weights(tmp_path / "given" / "pipeline", "transformer") != _weights(tmp_path / "plain" / "pipeline",
                                                                                 "transformer")
    with pytest.raises(SystemExit, match="--clean-first-frame is a fraction"):
        _t2v(latent_folder, tmp_path / "bad", "--clean-first-frame", "1")


def test_ema_averages_only_trainable_parameters():
    """A frozen part is neither averaged nor overwritten; the averaged copy leaves the module as it is."""
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    module[0].requires_grad_(False)
    ema = training.EMA(module, 0.5)
    assert set(ema.state_dict()) == {"1.weight", "1.bias"}
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with torch.no_grad():
        for p in module.parameters():
            p.add_(1.0)
    ema.update(module, step=100)
    average = ema.averaged_copy(module)
    assert not average.training
    assert torch.equal(average[0].weight, module[0].weight)  # frozen: the module's own
    assert torch.allclose(average[1].weight, before["1.weight"] + 0.5)  # halfway at decay 0.5
    assert torch.equal(module[1].weight, before["1.weight"] + 1.0)  # the module itself untouched


def test_ema_decay_sets_the_exported_average(latent_folder, tmp_path):
    _t2v(latent_folder, tmp_path / "default", "--steps", "2")
    _t2v(latent_folder, tmp_path / "raw", "--steps", "2", "--ema-decay", "0")
    raw = torch.load(tmp_path / "raw" / "checkpoint.pt", weights_only=False)
    assert "ema" not in raw  # decay 0: the last weights are exported
    assert _weights(tmp_path / "raw" / "pipeline", "transformer") != _weights(tmp_path / "default" / "pipeline",
                                                                               "transformer")
    with pytest.raises(SystemExit, match="--ema-decay must lie in"):
        _t2v(latent_folder, tmp_path / "bad", "--ema-decay", "1")


def test_schedule_steps_stops_a_run_part_way_through_its_schedule(latent_folder, tmp_path):
    """Two steps of a four-step schedule are the first two steps of the four-step run."""
    _t2v(latent_folder, tmp_path / "paused", "--chunk-steps", "2")
    _t2v(latent_folder, tmp_path / "short", "--steps", "2", "--schedule-steps", "4")
    paused = torch.load(tmp_path / "paused" / "checkpoint.pt", weights_only=False)
    short = torch.load(tmp_path / "short" / "checkpoint.pt", weights_only=False)
    assert paused["step"] == short["step"] == 2
    assert all(torch.equal(paused["model"][k], short["model"][k]) for k in paused["model"])
    assert (tmp_path / "short" / "pipeline" / "model_index.json").is_file()


def test_install_copies_the_exports_and_swaps_the_vae_in_place(latent_folder, tmp_path, capsys):
    _t2v(latent_folder, tmp_path / "t2v", "--steps", "1")
    _df(latent_folder, tmp_path / "t2v" / "pipeline", tmp_path / "df")
    models, vae = tmp_path / "models", latent_folder / "vae"
    models.mkdir()
    train.install({"toy-t2v": tmp_path / "t2v" / "pipeline", "toy-df": tmp_path / "df" / "pipeline"}, models)
    transformer = _weights(models / "toy-t2v", "transformer")
    assert transformer == _weights(tmp_path / "t2v" / "pipeline", "transformer")
    train.install({"toy-t2v": models / "toy-t2v", "toy-df": models / "toy-df"}, models, vae=vae)  # swap the VAE only
    assert _weights(models / "toy-t2v", "transformer") == transformer
    for name in ("toy-t2v", "toy-df"):
        assert _weights(models / name, "vae") == (vae / "diffusion_pytorch_model.safetensors").read_bytes()
    assert not any("_name_or_path" in config.read_text() for config in models.rglob("config.json"))
    with pytest.raises(ValueError, match="copy it elsewhere"):
        train.install({"toy-t2v": models / "toy-t2v"}, models, vae=models / "toy-t2v" / "vae")
    with pytest.raises(SystemExit):
        train.main(["install"])
    assert "name at least one exported pipeline" in capsys.readouterr().err


@pytest.mark.parametrize("model", sorted(recipes.TARGETS))
def test_recipe_runs_each_step_once_on_the_exports_of_earlier_steps(tmp_path, monkeypatch, model):
    """Every step parses, reads only what earlier steps left, and is skipped once its export exists."""
    steps = recipes.steps_for(model)
    ran = []

    def record(args):  # stands in for every stage: check the inputs, leave the export
        step = steps[len(ran)]
        inputs = [getattr(args, name, None) for name in ("init", "latents", "vae", "text_encoder", "model",
                                                         "anchor_latents", "anchor_reference")]
        assert all(Path(path).exists() for path in inputs if path is not None and str(tmp_path) in str(path))
        assert args.out == tmp_path / step.name and args.threads == 1
        step.export(tmp_path).mkdir(parents=True)
        ran.append(step.name)

    for stage in train.STAGES.values():
        monkeypatch.setattr(stage, "run", record)
    train.main(["recipe", model, "--root", str(tmp_path), "--threads", "1"])
    assert ran == [step.name for step in steps] and ran[-1] == recipes.TARGETS[model]
    train.main(["recipe", model, "--root", str(tmp_path), "--threads", "1"])  # nothing left to do
    assert len(ran) == len(steps)


def test_causal_block_size_2_fine_tunes_toy_df_into_a_block_causal_toy_ar(latent_folder, tmp_path, monkeypatch):
    """toy-ar: toy-df's weights in a block-causal transformer, trained on 6-frame windows, served by the DF
    pipeline with its defaults; a block never sees the blocks after it."""
    from diffusers import SkyReelsV2DiffusionForcingPipeline

    import mmcache.pipelines
    from mmcache.pipelines import loader
    from mmcache.pipelines.loader import bundled_path, read_defaults
    from mmcache.pipelines.toy.configs import AR_DEFAULTS
    from mmcache.pipelines.toy.evaluate import generate_frames

    _df(latent_folder, "toy-df", tmp_path / "ar", "--causal-block-size", "2", "--mode-weights", "0.2", "0.1", "0.2",
        "0.05", "0.45", "--start-windows-at-clip-start")
    export = tmp_path / "ar" / "pipeline"
    assert read_defaults(export) == AR_DEFAULTS and AR_DEFAULTS["extra"]["causal_block_size"] == 2
    model = SkyReelsV2Transformer3DModel.from_pretrained(str(export / "transformer")).eval()
    assert model.config.num_frame_per_block == 2
    bundled = SkyReelsV2Transformer3DModel.from_pretrained(str(bundled_path("toy-df") / "transformer")).state_dict()
    trained = model.state_dict()
    assert all(torch.isfinite(v).all() for v in trained.values())
    assert any(not torch.equal(bundled[k], v) for k, v in trained.items())  # trained on from toy-df
    x, text = torch.randn(1, 8, 6, 16, 16), torch.randn(1, 4, 64)
    t = torch.tensor([[0.0, 0.0, 500.0, 500.0, 999.0, 999.0]])
    changed = x.clone()
    changed[:, :, 4:] = torch.randn(1, 8, 2, 16, 16)  # only the last block
    with torch.no_grad():
        a, b = (model(v, t, text, enable_diffusion_forcing=True, return_dict=False)[0] for v in (x, changed))
    assert torch.allclose(a[:, :, :4], b[:, :, :4], atol=1e-6) and not torch.allclose(a[:, :, 4:], b[:, :, 4:])
    models = tmp_path / "models"
    train.install({"toy-ar": export}, models, vae=bundled_path("toy-df") / "vae")  # the VAE toy-df shares
    layout = [sorted(p.name for p in folder.iterdir()) for folder in (models / "toy-ar", bundled_path("toy-df"))]
    assert layout[0] == layout[1]
    assert _weights(models / "toy-ar", "vae") == _weights(bundled_path("toy-df"), "vae")
    monkeypatch.setattr(loader, "MODELS_DIR", models)
    pipe = mmcache.pipelines.load("toy-ar", device="cpu")  # a bundled name, its defaults filled in
    assert isinstance(pipe, SkyReelsV2DiffusionForcingPipeline)
    frames = generate_frames(pipe, "a red circle moving left", 0, num_inference_steps=2, guidance_scale=1.0)
    assert frames.shape == (45, 64, 64, 3)


def test_install_from_a_folder_without_an_export_is_one_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(["install", "--t2v", str(tmp_path)])
    assert f"install: {tmp_path} holds no exported pipeline (model_index.json)." in capsys.readouterr().err
