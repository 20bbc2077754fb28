"""The evaluation command on the tiny random pipeline: report fields, table, usage errors."""

import json

import pytest

from mmcache.pipelines.var import evaluate


def test_report_of_the_tiny_pipeline(tmp_path, capsys):
    evaluate.main(["--model", "tiny:var", "--prompts", "17", "--out", str(tmp_path), "--threads", "1",
                   "--reconstruction-images", "4", "--skip", "timing"])
    report = json.loads((tmp_path / "report.json").read_text())
    adherence = report["held_out_adherence"]
    assert adherence["images"] == 17 and len(adherence["captions"]) == 15
    assert [row["images"] for row in adherence["captions"]][:3] == [2, 2, 1]
    assert 0 <= adherence["colour"] <= 1 and set(report["tokenizer_reconstruction"]) == {"psnr", "ssim", "images"}
    assert "a red circle on a black background" in capsys.readouterr().out


def test_a_model_that_is_not_var_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        evaluate.main(["--model", "toy-nothing", "--out", str(tmp_path)])
    assert "not a model name" in capsys.readouterr().err
