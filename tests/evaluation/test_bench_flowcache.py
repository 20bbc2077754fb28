"""The FlowCache benchmark script runs end to end (tiny block-causal model) and resumes from its records, remaking
those made with other settings."""

from __future__ import annotations

import json

from mmcache.eval import bench_flowcache

ARGS = ["--model", "tiny:skyreels-v2-df-causal", "--prompts", "1", "--frames", "21", "--reuse", "0.3",
        "--rate", "0.3", "--fresh-reuse", "0.3", "--fresh-rate", "", "--kv-threshold", "0.3", "--kv-budget", "2", "--easycache", "0.2", "--compose", "0.2",
        "--compose-text", "0.2", "--warmup-steps", "2", "--kv-lengths", "21", "37", "--addnoise", "20", "--quiet"]


def test_the_benchmark_writes_its_tables_and_resumes(tmp_path, capsys):
    assert bench_flowcache.main([*ARGS, "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["summary"]["21"]
    assert set(rows) == {"plain", "flowcache restructure", "flowcache modulation 0.3", "flowcache modulation 0.3 + kv 2",
                         "flowcache rate 0.3", "flowcache rate 0.3 + kv 2", "easycache 0.2 (whole window)",
                         "flowcache restructure + easycache 0.2", "flowcache modulation 0.3, fresh kv",
                         "flowcache restructure + text kv", "flowcache restructure + text kv + easycache 0.2"}
    assert rows["plain"]["compute_saved"] == 0 and rows["flowcache restructure"]["compute_saved"] > 0
    assert rows["flowcache restructure"]["psnr"] > 60  # exact up to float rounding
    composed = rows["flowcache restructure + easycache 0.2"]["compute_saved"]
    assert composed > rows["flowcache restructure"]["compute_saved"]
    text = rows["flowcache restructure + text kv"]  # the prompt's projections kept: the same frames, fewer MACs
    assert text["psnr"] == rows["flowcache restructure"]["psnr"] and text["text_kv_bytes"] > 0
    assert text["compute_saved"] > rows["flowcache restructure"]["compute_saved"]
    assert rows["flowcache restructure + text kv + easycache 0.2"]["compute_saved"] > composed
    assert list(results["kv_by_length"]["peaks"]) == ["21", "37"] and results["addnoise"]["mean_psnr"] > 0
    assert "| flowcache rate 0.3 + kv 2 |" in (tmp_path / "flowcache.md").read_text()
    stored = sorted(path.name for path in (tmp_path / "runs").iterdir())
    # runs are kept by prompt and seed (not by position), so a rerun with another --prompts reuses what matches
    assert all(json.loads(path.read_text())["prompt"].replace(" ", "_") + "-s0-" in path.name
               for path in (tmp_path / "runs").iterdir())
    times = {path.name: path.stat().st_mtime_ns for path in (tmp_path / "runs").iterdir()}
    assert bench_flowcache.main([*ARGS, "--kv-lengths", "--addnoise", "0", "--out", str(tmp_path)]) == 0
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == stored
    assert {path.name: path.stat().st_mtime_ns for path in (tmp_path / "runs").iterdir()} == times  # nothing redone
    # a stored run made with other settings under the same label is made again, not read back
    file = next(path for path in (tmp_path / "runs").iterdir() if "easycache_0.2_(whole" in path.name)
    row = json.loads(file.read_text())
    row["identity"]["config"]["threshold"], row["psnr"] = 0.9, -1.0
    file.write_text(json.dumps(row))
    assert bench_flowcache.main([*ARGS, "--kv-lengths", "--addnoise", "0", "--out", str(tmp_path)]) == 0
    again = json.loads(file.read_text())
    assert again["identity"]["config"]["threshold"] == 0.2 and again["psnr"] > 0


def test_training_captions_choose_settings_without_a_held_out_prompt(tmp_path):
    from mmcache.eval.pareto_step_methods import calibration_prompts, held_out_prompts

    argv = ["--model", "tiny:skyreels-v2-df-causal", "--captions", "train", "--prompts", "1", "--frames", "21",
            "--reuse", "", "--rate", "", "--fresh-reuse", "", "--fresh-rate", "", "--easycache", "", "--compose", "0.2", "--compose-text", "", "--warmup-steps", "2", "--kv-lengths",
            "--addnoise", "0", "--quiet", "--out", str(tmp_path)]
    assert bench_flowcache.main(argv) == 0
    prompts = {json.loads(path.read_text())["prompt"] for path in (tmp_path / "runs").iterdir()}
    assert prompts == {calibration_prompts(1)[0]} and not prompts & set(held_out_prompts(15))


def test_fitted_rows_take_the_rescale_of_a_metrics_file(tmp_path):
    import pytest

    fit = tmp_path / "metrics.json"
    fit.write_text(json.dumps({"metrics": {"modulation": {"rescale": [2.0, 0.1]}}}))
    argv = ["--model", "tiny:skyreels-v2-df-causal", "--prompts", "1", "--frames", "21", "--reuse", "", "--rate", "", "--fresh-reuse", "", "--fresh-rate", "",
            "--easycache", "", "--compose", "", "--fitted", "0.3", "--warmup-steps", "2", "--kv-lengths",
            "--addnoise", "0", "--quiet", "--out", str(tmp_path / "out")]
    assert bench_flowcache.main([*argv, "--rescale-fit", str(fit)]) == 0
    row = next(json.loads(path.read_text()) for path in (tmp_path / "out" / "runs").iterdir()
               if "fitted_rescale" in path.name)
    assert row["identity"]["config"]["rescale"] == [2.0, 0.1] and row["identity"]["config"]["threshold"] == 0.3
    fit.write_text("{}")
    with pytest.raises(SystemExit, match="flowcache_metrics"):
        bench_flowcache.main([*argv, "--rescale-fit", str(fit)])


def test_a_stored_run_with_a_tuple_setting_is_recognised(tmp_path):
    import mmcache

    config = mmcache.FlowCacheConfig(threshold=0.1, rescale=(2.0, 0.1))
    identity = bench_flowcache.run_identity("toy-ar", 21, "a prompt", 0, config)
    file = tmp_path / "run.json"
    file.write_text(json.dumps({"identity": identity, "psnr": 30.0}))  # stored as JSON: the tuple becomes a list
    assert bench_flowcache.stored_run(file, identity)["psnr"] == 30.0
