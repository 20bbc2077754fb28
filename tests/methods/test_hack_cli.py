"""`mmcache calibrate --method hack`: a head classification file from the command line, on tiny:var and on a saved
class-conditioned VAR folder; the builtin captions are training ones, spread evenly."""

import torch

import mmcache
from mmcache.cli.calibrate_hack import builtin_captions
from mmcache.cli.main import main
from mmcache.pipelines.var import MultiScaleVQVAE, VARPipeline, VARTransformer
from mmcache.pipelines.toy.captions import COLOURS, SHAPES
from mmcache.pipelines.var.captions import held_out_image_specs, parse_image_caption, train_image_specs
from mmcache.pipelines.var.configs import TINY_TOKENIZER, TINY_TRANSFORMER


def test_writes_a_file_that_hack_calibration_loads_and_hack_uses(tmp_path, capsys):
    out = tmp_path / "hack.json"
    assert main(["calibrate", "--method", "hack", "--model", "tiny:var", "--prompts", "builtin", "--limit", "3",
                 "--seeds", "0,1", "--contextual-fraction", "0.5", "--guidance-scale", "2", "--top-k", "4",
                 "--device", "cpu", "--quiet", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    calibration = mmcache.HACKCalibration.load(out)
    assert calibration.samples == 6 and calibration.prompts == builtin_captions(3)
    assert calibration.contextual_fraction == 0.5
    layers, heads = calibration.target["num_layers"], calibration.target["num_heads"]
    assert sum(map(len, calibration.contextual_heads)) == layers * heads // 2
    pipe = mmcache.pipelines.load("tiny:var", device="cpu")
    with mmcache.enabled(pipe, mmcache.HACKConfig(budget=0.15, calibration=str(out))) as handle:
        pipe(calibration.prompts[0], generator=torch.Generator().manual_seed(0), output_type="pt")
    assert handle.stats().ratios()["kv_bytes_held"] < 1


def test_builtin_captions_are_training_captions_spread_evenly():
    train = [spec.text for spec in train_image_specs()]
    held_out = {spec.text for spec in held_out_image_specs()}
    default = builtin_captions(None)
    assert len(default) == 8 and len(set(default)) == 8 and not held_out & set(default)
    positions = [train.index(caption) for caption in default]
    assert positions[0] == 0 and positions[-1] == len(train) - 1  # the first and the last, and between:
    assert all(3 <= b - a <= 5 for a, b in zip(positions, positions[1:]))  # 30 captions, 7 gaps
    specs = [parse_image_caption(caption) for caption in default]
    assert {spec.colour for spec in specs} == set(COLOURS) and {spec.shape for spec in specs} == set(SHAPES)
    assert builtin_captions(100) == train


def test_a_class_conditioned_folder_takes_a_file_of_labels(tmp_path):
    torch.manual_seed(0)
    tokenizer = MultiScaleVQVAE(**TINY_TOKENIZER)
    transformer = VARTransformer(vocab_size=TINY_TOKENIZER["vocab_size"], z_channels=TINY_TOKENIZER["z_channels"],
                                 patch_nums=TINY_TOKENIZER["patch_nums"], num_classes=10, **TINY_TRANSFORMER)
    folder = VARPipeline(tokenizer, transformer).save_pretrained(tmp_path / "classvar")
    labels = tmp_path / "labels.txt"
    labels.write_text("3\n7\n")
    out = tmp_path / "hack.json"
    assert main(["calibrate", "--method", "hack", "--model", str(folder), "--prompts", str(labels),
                 "--device", "cpu", "--quiet", "--out", str(out)]) == 0
    calibration = mmcache.HACKCalibration.load(out)
    assert calibration.prompts == ["3", "7"] and calibration.samples == 2
