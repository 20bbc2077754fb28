"""train average: the element-wise mean of transformer weights, written whole or not at all."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from mmcache.pipelines.toy.average_weights import CONFIG, WEIGHTS, average_transformers
from mmcache.pipelines.toy.train import main


def _pipeline(folder, weight, config=None):
    (folder / "transformer").mkdir(parents=True)
    (folder / CONFIG).write_text(json.dumps(config or {"num_layers": 2, "_diffusers_version": "x"}))
    save_file(weight, str(folder / WEIGHTS))
    (folder / "model_index.json").write_text("{}")
    return folder


def test_average_is_the_element_wise_mean_and_keeps_the_first_folder(tmp_path):
    a = _pipeline(tmp_path / "a", {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([4.0], dtype=torch.bfloat16)})
    b = _pipeline(tmp_path / "b", {"w": torch.tensor([3.0, 6.0]), "b": torch.tensor([0.0], dtype=torch.bfloat16)},
                  {"num_layers": 2, "_diffusers_version": "y"})
    out = average_transformers([a, b], tmp_path / "soup")
    state = load_file(str(out / WEIGHTS))
    assert torch.equal(state["w"], torch.tensor([2.0, 4.0]))
    assert state["b"].dtype == torch.bfloat16 and float(state["b"]) == 2.0
    assert (out / "model_index.json").is_file() and json.loads((out / CONFIG).read_text())["_diffusers_version"] == "x"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left


def test_average_refuses_bad_input_with_one_clear_error(tmp_path, capsys):
    a = _pipeline(tmp_path / "a", {"w": torch.zeros(2)})
    wide = _pipeline(tmp_path / "wide", {"w": torch.zeros(3)})
    deep = _pipeline(tmp_path / "deep", {"w": torch.zeros(2)}, {"num_layers": 4})
    for folders, message in (([a], "at least two"), ([a, wide], "names or shapes"), ([a, deep], "num_layers"),
                             ([a, tmp_path / "none"], "not a saved pipeline")):
        with pytest.raises(ValueError, match=message):
            average_transformers(folders, tmp_path / "out")
    with pytest.raises(ValueError, match="exists"):
        average_transformers([a, a], a)
    with pytest.raises(SystemExit):
        main(["average", "--out", str(tmp_path / "out"), str(a), str(wide)])
    assert "average:" in capsys.readouterr().err and not (tmp_path / "out").exists()
    main(["average", "--out", str(tmp_path / "out"), str(a), str(a)])
    assert torch.equal(load_file(str(tmp_path / "out" / WEIGHTS))["w"], torch.zeros(2))
