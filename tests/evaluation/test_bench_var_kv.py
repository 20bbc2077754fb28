"""The scale-KV benchmark on tiny:var: every row (bounds too), keep-everything rows identical to plain, resume without
work."""

import json

from mmcache.eval import bench_var_kv


def test_rows_resume_and_identity(tmp_path, monkeypatch):
    argv = ["--model", "tiny:var", "--prompts", "2", "--budgets", "1.0", "0.2", "--methods", "hack", "recentscales",
            "lookahead-pooled", "--calibration-prompts", "2", "--threads", "1", "--out", str(tmp_path), "--quiet"]
    rows = {row["method"]: row for row in bench_var_kv.main(argv)}
    assert set(rows) == {"plain", "hack 1", "recentscales 1", "lookahead-pooled 1", "hack 0.2", "recentscales 0.2",
                         "lookahead-pooled 0.2"}
    for label in ("hack 1", "recentscales 1", "lookahead-pooled 1"):
        assert rows[label]["identical"] == 2 and rows[label]["kv_bytes_peak"] == 1.0
    assert rows["recentscales 0.2"]["kv_bytes_held"] < 1 and rows["recentscales 0.2"]["attention_flops"] < 1
    assert (tmp_path / "report.md").read_text().count("\n| ") == 8
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["method"] == "plain"

    def no_new_work(*args, **kwargs):
        raise AssertionError("a stored run was made again")

    monkeypatch.setattr(bench_var_kv, "generate_one", no_new_work)
    again = {row["method"]: row for row in bench_var_kv.main(argv)}
    assert again["hack 0.2"]["psnr_db"] == rows["hack 0.2"]["psnr_db"]


def test_methods_start_from_the_model_preset_and_hack_flags_override_it(tmp_path):
    settings = bench_var_kv.method_settings("toy-var", ["hack", "scaletopk"], {"merge_evicted": False})
    assert settings["hack"]["contextual_ratio"] == 0.75 and settings["hack"]["merge_evicted"] is False
    assert settings["scaletopk"] == {}
    grid = bench_var_kv.method_grid(["hack", "scaletopk"], [0.1], tmp_path / "hack.json", settings)
    assert grid["hack 0.1"].contextual_ratio == 0.75 and grid["hack 0.1"].merge_evicted is False
    assert grid["hack 0.1"].budget == 0.1 and grid["hack 0.1"].calibration == str(tmp_path / "hack.json")
    assert grid["scaletopk 0.1"].budget == 0.1


def test_training_images_never_use_a_held_out_caption():
    from mmcache.eval.var_images import held_out_images, training_images

    held_out = {caption for caption, _ in held_out_images(15, 0)}
    images = training_images(40, 7)
    assert len(images) == 40 and [seed for _, seed in images] == list(range(7, 47))
    assert not held_out & {caption for caption, _ in images} and len({caption for caption, _ in images}) == 30


def test_bounds_alone_need_no_head_calibration(tmp_path):
    argv = ["--model", "tiny:var", "--prompts", "1", "--budgets", "0.2", "--methods", "lookahead-topk",
            "--threads", "1", "--out", str(tmp_path), "--quiet"]
    rows = {row["method"]: row for row in bench_var_kv.main(argv)}
    assert set(rows) == {"plain", "lookahead-topk 0.2"}
    assert not list(tmp_path.glob("hack-*.json"))
    assert json.loads((tmp_path / "results.json").read_text())["calibration"] is None
