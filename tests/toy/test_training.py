"""Training plumbing on a tiny random latent set: exact padding trick, chunked resume, export."""

import json

import numpy as np
import pytest
import torch
from diffusers import SkyReelsV2Transformer3DModel, WanTransformer3DModel

from mmcache.pipelines.toy import common, train
from mmcache.pipelines.toy.configs import FLOW_SHIFT, build_t2v_transformer, build_text_encoder, build_vae
from mmcache.pipelines.toy.padded_attention import restore_processors, short_text_states, use_padded_cross_attention
from mmcache.pipelines.toy.text import encode, tokenize


def test_padded_cross_attention_equals_512_positions():
    torch.manual_seed(0)
    model, text = build_t2v_transformer().eval(), build_text_encoder().eval()
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
                "--eval-every", "1000", "--eval-prompts", "1", "--eval-steps", "2", "--threads", "1", *extra])


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
    train.main(["df", "--latents", str(latent_folder), "--init", str(tmp_path / "whole" / "pipeline"),
                "--out", str(tmp_path / "df"), "--steps", "2", "--batch-size", "2", "--eval-every", "1000",
                "--eval-prompts", "1", "--eval-steps", "2", "--eval-frames", "25", "--threads", "1"])
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


def test_decoder_ema_exports_the_average_and_logs_both_scores(latent_folder, tmp_path):
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
    assert evals and {"psnr", "psnr_raw"} <= set(evals[-1])
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


def test_all_runs_every_stage_in_order_and_installs(tmp_path, monkeypatch):
    """``train all`` chains vae → latents → decoder fine-tune → t2v → df; finished stages are skipped."""
    tiny_run = ["--eval-every", "1000", "--batch-size", "1"]
    monkeypatch.setitem(train.PRESETS, "tiny", {
        "vae": ["--steps", "1", "--crop", "16", "--clip-frames", "5", "--eval-clips", "1", *tiny_run],
        "latents": ["--count", "2", "--shard-size", "2", "--batch-size", "2"],
        "decoder": [*train.DECODER_ONLY, "--steps", "1", "--crop", "16", "--clip-frames", "5", "--eval-clips", "1",
                    *tiny_run],
        "t2v": ["--steps", "1", "--eval-prompts", "1", "--eval-steps", "2", *tiny_run],
        "df": ["--steps", "1", "--eval-prompts", "1", "--eval-steps", "2", "--eval-frames", "25", *tiny_run],
    })
    root = tmp_path / "run"
    train.main(["all", "--root", str(root), "--preset", "tiny", "--threads", "1"])
    outputs = train.stage_outputs(root)
    assert list(outputs) == ["vae", "latents", "decoder", "t2v", "df"]
    assert all(path.exists() for path in outputs.values())
    stamps = {name: path.stat().st_mtime_ns for name, path in outputs.items()}
    train.main(["all", "--root", str(root), "--preset", "tiny", "--threads", "1"])  # nothing left to do
    assert stamps == {name: path.stat().st_mtime_ns for name, path in outputs.items()}
    models = tmp_path / "models"
    models.mkdir()
    train.install(outputs["t2v"], outputs["df"], models, vae=outputs["decoder"])
    decoder_weights = (outputs["decoder"] / "diffusion_pytorch_model.safetensors").read_bytes()
    for folder in (root, models):  # the decoder was fine-tuned from --init, yet no config names that path
        assert not any("_name_or_path" in config.read_text() for config in folder.rglob("config.json"))
    for name in ("toy-t2v", "toy-df"):
        assert (models / name / "vae" / "diffusion_pytorch_model.safetensors").read_bytes() == decoder_weights
    transformer = (models / "toy-t2v" / "transformer" / "diffusion_pytorch_model.safetensors").read_bytes()
    train.install(models / "toy-t2v", models / "toy-df", models, vae=outputs["vae"])  # in place: swap the VAE only
    assert (models / "toy-t2v" / "transformer" / "diffusion_pytorch_model.safetensors").read_bytes() == transformer
    vae_weights = (outputs["vae"] / "diffusion_pytorch_model.safetensors").read_bytes()
    for name in ("toy-t2v", "toy-df"):
        assert (models / name / "vae" / "diffusion_pytorch_model.safetensors").read_bytes() == vae_weights


@pytest.mark.parametrize("preset", sorted(train.PRESETS))
def test_every_stage_of_every_preset_parses(tmp_path, monkeypatch, preset):
    parsed = {}
    finished = {"vae": "vae", "latents": "stats.json", "decoder": "vae", "t2v": "pipeline", "df": "pipeline"}

    def record(args):  # stands in for every stage's run: keep the parsed options, leave the stage's output
        parsed[args.out.name] = args
        output = args.out / finished[args.out.name]
        output.parent.mkdir(parents=True, exist_ok=True)
        output.touch() if output.suffix else output.mkdir()

    for module in set(train.ALL_STAGES.values()):
        monkeypatch.setattr(module, "run", record)
    train.main(["all", "--root", str(tmp_path), "--preset", preset])
    assert list(parsed) == list(train.ALL_STAGES)
    assert parsed["t2v"].clean_first_frame == 0.5 and parsed["decoder"].decoder_only


def test_copy_init_makes_temporal_resampling_copy_frames():
    from mmcache.pipelines.toy.train_vae import initialise_temporal_resampling

    vae = build_vae()
    initialise_temporal_resampling(vae)
    convs = [m.time_conv for m in vae.modules() if getattr(m, "time_conv", None) is not None]
    assert len(convs) == 4  # two temporal downsamplings in the encoder, two upsamplings in the decoder
    for conv in convs:
        channels = conv.weight.shape[1]
        x = torch.randn(1, channels, 3, 4, 4)
        out = torch.nn.functional.conv3d(x, conv.weight, conv.bias)  # the 3 frames -> the last one
        for start in range(0, conv.weight.shape[0], channels):
            assert torch.equal(out[:, start:start + channels, 0], x[:, :, -1])


def test_patch_size_reaches_the_exported_t2v_and_the_df_started_from_it(latent_folder, tmp_path):
    _t2v(latent_folder, tmp_path / "t2v", "--patch-size", "2", "--steps", "1")
    exported = WanTransformer3DModel.from_pretrained(str(tmp_path / "t2v" / "pipeline" / "transformer"))
    assert tuple(exported.config.patch_size) == (1, 2, 2)
    train.main(["df", "--latents", str(latent_folder), "--init", str(tmp_path / "t2v" / "pipeline"),
                "--out", str(tmp_path / "df"), "--steps", "1", "--batch-size", "2", "--eval-every", "1000",
                "--eval-prompts", "1", "--eval-steps", "2", "--eval-frames", "25", "--threads", "1"])
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
    from mmcache.pipelines.toy.train_df import load_init

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
    from mmcache.pipelines.toy.denoiser import model_timesteps
    from mmcache.pipelines.toy.flow import sigmas_with_clean_first_frame

    sigmas, weight = sigmas_with_clean_first_frame(torch.tensor([0.9, 0.4]), 3, np.array([True, False]))
    assert torch.allclose(sigmas, torch.tensor([[0.0, 0.9, 0.9], [0.4, 0.4, 0.4]]))
    assert weight.tolist() == [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    timestep = model_timesteps(sigmas, torch.Size([2, 8, 3, 16, 16]), (1, 2, 2), diffusion_forcing=False)
    assert timestep.shape == (2, 3 * 64) and float(timestep[0, :64].abs().max()) == 0.0
    assert model_timesteps(sigmas, torch.Size([2, 8, 3, 16, 16]), (1, 2, 2), diffusion_forcing=True).shape == (2, 3)
    model = build_t2v_transformer(2).eval()  # per-token timesteps equal to one σ give the per-clip output
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
    ema = common.EMA(module, 0.5)
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
    assert all(torch.equal(raw["ema"][k], raw["model"][k]) for k in raw["ema"])  # decay 0: the last weights
    assert _weights(tmp_path / "raw" / "pipeline", "transformer") != _weights(tmp_path / "default" / "pipeline",
                                                                               "transformer")
    with pytest.raises(SystemExit, match="--ema-decay must lie in"):
        _t2v(latent_folder, tmp_path / "bad", "--ema-decay", "1")


def test_df_background_weights_train_or_say_which_background_has_no_clips(latent_folder, tmp_path):
    run = ["df", "--latents", str(latent_folder), "--init", "toy-t2v", "--out", str(tmp_path / "df"),
           "--steps", "1", "--batch-size", "2", "--eval-every", "1000", "--eval-prompts", "1", "--eval-steps", "2",
           "--eval-frames", "25", "--threads", "1", "--background-weights"]
    with pytest.raises(SystemExit, match="--background-weights: Background 'white' has weight 1.0 but no clips"):
        train.main(run + ["1", "1", "1"])
    train.main(run + ["0", "1", "0"])
    assert (tmp_path / "df" / "pipeline" / "model_index.json").is_file()


def test_df_object_weight_changes_the_update_and_a_negative_one_is_refused(latent_folder, tmp_path):
    def run(name: str, weight: str) -> None:
        train.main(["df", "--latents", str(latent_folder), "--init", "toy-t2v", "--out", str(tmp_path / name),
                    "--steps", "1", "--batch-size", "2", "--eval-every", "1000", "--eval-prompts", "1",
                    "--eval-steps", "2", "--eval-frames", "25", "--threads", "1", "--object-weight", weight])

    with pytest.raises(SystemExit, match="--object-weight must be non-negative"):
        run("bad", "-1")
    run("plain", "0")
    run("weighted", "4")
    plain, weighted = (SkyReelsV2Transformer3DModel.from_pretrained(str(tmp_path / n / "pipeline" / "transformer"))
                       for n in ("plain", "weighted"))
    differs = [not torch.equal(a, b) for a, b in zip(plain.state_dict().values(), weighted.state_dict().values())]
    assert any(differs)
