"""`mmcache eval`: bad flags and settings. The rows run after ``eval --quiet --vbench off --out {tmp}/run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .cases import BAD_INPUT, USAGE, Setup, cli, make_file


def other_settings_folder(tmp: Path) -> None:
    """An output folder whose run_config.json was made for other steps."""
    config = {"model": "tiny:wan2.1-t2v", "steps": 3, "height": 16, "width": 16, "num_frames": 5,
              "guidance_scale": 5.0, "negative_prompt": None, "dtype": None, "measure_compute": False,
              "seeds": [0], "num_prompts": 1, "prompts_digest": "0", "model_weights": None}
    (tmp / "run").mkdir()
    (tmp / "run" / "run_config.json").write_text(json.dumps(config))


def vqa_folder(model: str) -> Setup:
    """A setup that makes an output folder of --task vqa for ``model``."""
    def setup(tmp: Path) -> None:
        (tmp / "run").mkdir()
        (tmp / "run" / "run_config.json").write_text(json.dumps({"task": "vqa", "model": model, "dtype": None}))

    return setup


def report_only_cases(task: str, **options: Any) -> list[Any]:
    """``--report-only`` beside a flag that only matters when something runs, and on a folder without records
    (``options``: of that row, e.g. a setup that makes a folder of ``task`` with no records)."""
    return [
        cli("report-only-with-force", "--report-only --force", BAD_INPUT, "--report-only generates nothing, so "
            "--force has nothing to do; leave one of them out."),
        cli("report-only-with-retry", "--report-only --retry-failed", BAD_INPUT, "--retry-failed has nothing to do"),
        cli("report-only-without-records", "--report-only", BAD_INPUT, "--report-only: {tmp}/run holds no records "
            f"to report. Run `mmcache eval --task {task} --out {{tmp}}/run` with the same settings and without "
            "--report-only first.", **options),
    ]


def latin1_prompts(tmp: Path) -> None:
    (tmp / "p.txt").write_bytes("a caf\u00e9 at night\n".encode("latin-1"))


EVAL_FLAG_CASES = [
    cli("steps-zero", "--steps 0", USAGE, "argument --steps: expects a whole number >= 1"),
    cli("limit-prompts-zero", "--limit-prompts 0", USAGE, "argument --limit-prompts"),
    cli("seeds-text", "--seeds 0,x", USAGE, "argument --seeds: expects comma-separated whole numbers"),
    cli("seeds-repeated", "--seeds 0,1,0", USAGE, "argument --seeds: repeats a seed"),
    cli("seeds-empty", "--seeds ,", USAGE, "argument --seeds: is empty"),
    cli("fps-zero", "--fps 0", USAGE, "argument --fps"),
    cli("guidance-nan", "--guidance-scale nan", USAGE, "argument --guidance-scale: expects a finite number"),
    cli("height-negative", "--height -1", USAGE, "argument --height"),
    cli("dtype-unknown", "--dtype float64", USAGE, "argument --dtype: invalid choice"),
    cli("vbench-mode-unknown", "--vbench maybe", USAGE, "argument --vbench: invalid choice"),
    cli("method-unknown", "--methods magic:x=1", BAD_INPUT, "Unknown method 'magic'"),
    cli("method-parameter-unknown", "--methods easycache:tau=0.1", BAD_INPUT, "has no parameter"),
    cli("peer-parameter-type", "--methods diffusers-fbc:threshold=fast", BAD_INPUT, "threshold must be a number"),
    cli("baseline-with-parameters", "--methods baseline:x=1", BAD_INPUT, "the baseline takes no parameters"),
    cli("method-twice", "--methods easycache,easycache", BAD_INPUT, "give each method once"),
    cli("scale-kv-method", "--methods hack:budget=0.3", BAD_INPUT, "'hack:budget=0.3': hack is a scale-KV method of "
        "next-scale-prediction (VAR) image models; --task video takes baseline, easycache"),
    cli("video-qa-method", "--methods snapkv:budget=0.2", BAD_INPUT, "or use --task vqa"),
    cli("prompts-missing", "--prompts missing/prompts.txt", BAD_INPUT,
        "Prompt file 'missing/prompts.txt' does not exist"),
    cli("prompts-blank-file", "--prompts {tmp}/p.txt", BAD_INPUT, "No prompts in", setup=make_file("p.txt", " \n")),
    cli("prompts-not-utf8", "--prompts {tmp}/p.txt", BAD_INPUT, "p.txt is not UTF-8 text", setup=latin1_prompts),
    cli("prompts-folder", "--prompts {tmp}", BAD_INPUT, "is a folder; give a .txt or .json prompt list"),
    cli("vbench-dimension-needs-suite", "--vbench-dimensions color", BAD_INPUT, "needs VBench's own prompt suite"),
    cli("vbench-dimension-unknown", "--vbench-dimensions beauty", BAD_INPUT, "Unknown VBench dimension 'beauty'"),
    cli("vbench-dimensions-empty", "--vbench-dimensions ,", BAD_INPUT, "--vbench-dimensions is empty"),
    *report_only_cases("video", setup=other_settings_folder),
    cli("out-under-a-file", "--out {tmp}/afile/run", BAD_INPUT, "is a file, not a folder", setup=make_file("afile")),
    cli("device-unknown", "--device gpu0", BAD_INPUT, "--device 'gpu0' is not a device name"),
    cli("device-missing", "--device cuda:99", BAD_INPUT, "--device cuda:99"),
    cli("model-unknown", "--model bogus", BAD_INPUT, "'bogus' is not a model name"),
    cli("toy-huge-size", "--model toy-t2v --height 4096 --width 4096", BAD_INPUT,
        "toy-t2v generates 64x64 frames only", needs_bundled=True),
    cli("toy-frames", "--model toy-t2v --frames 16", BAD_INPUT, "--frames must be 4·k + 1", needs_bundled=True),
    cli("folder-for-other-settings", "--model tiny:wan2.1-t2v --steps 2 --limit-prompts 1", BAD_INPUT,
        "holds results for other settings (", setup=other_settings_folder),
    cli("vqa-flag", "--clips 3", BAD_INPUT, "--clips applies only to --task vqa. Leave it out, or use --task vqa."),
    cli("image-flag", "--calibration-prompts 2", BAD_INPUT,
        "--calibration-prompts applies only to --task image. Leave it out, or use --task image."),
    cli("image-model", "--model tiny:var", BAD_INPUT, "--model tiny:var makes images by next-scale prediction (a VAR "
        "model); --task video evaluates video generators (evaluate it with --task image)"),
    cli("folder-of-the-vqa-task", "--model tiny:wan2.1-t2v --steps 2 --limit-prompts 1", BAD_INPUT,
        "holds results for other settings (--task vqa, not video)", setup=vqa_folder("tiny:vlm")),
    cli("image-model-frames", "--model tiny:flux --steps 2 --limit-prompts 1 --frames 5", BAD_INPUT,
        "--frames: FluxPipeline takes no num_frames argument", before_load=False),
]
