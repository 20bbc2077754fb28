"""The scale-KV benchmark on tiny:var: every row, keep-everything rows identical to plain, resume without work."""

import json

from mmcache.eval import bench_var_kv


def test_rows_resume_and_identity(tmp_path, monkeypatch):
    argv = ["--model", "tiny:var", "--prompts", "2", "--budgets", "1.0", "0.2", "--methods", "hack", "recentscales",
            "--calibration-prompts", "2", "--threads", "1", "--out", str(tmp_path), "--quiet"]
    rows = {row["method"]: row for row in bench_var_kv.main(argv)}
    assert set(rows) == {"plain", "hack 1", "recentscales 1", "hack 0.2", "recentscales 0.2"}
    for label in ("hack 1", "recentscales 1"):
        assert rows[label]["identical"] == 2 and rows[label]["kv_bytes_peak"] == 1.0
    assert rows["recentscales 0.2"]["kv_bytes_held"] < 1 and rows["recentscales 0.2"]["attention_flops"] < 1
    assert (tmp_path / "report.md").read_text().count("\n| ") == 6
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["method"] == "plain"

    def no_new_work(*args, **kwargs):
        raise AssertionError("a stored run was made again")

    monkeypatch.setattr(bench_var_kv, "generate_one", no_new_work)
    again = {row["method"]: row for row in bench_var_kv.main(argv)}
    assert again["hack 0.2"]["psnr_db"] == rows["hack 0.2"]["psnr_db"]
