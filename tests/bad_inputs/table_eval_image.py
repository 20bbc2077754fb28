"""`mmcache eval --task image`: bad method specs, flags and models. The rows run after
``eval --task image --quiet --model tiny:var --prompts 1 --out {tmp}/run`` (a later flag wins)."""

from __future__ import annotations

import json
from pathlib import Path

from .cases import BAD_INPUT, USAGE, Setup, cli, make_file, make_folder
from .table_eval_flags import report_only_cases, vqa_folder

SCALE_KV_METHODS = "--task image takes plain (always run) and the scale-KV methods hack, recentscales, scalekv, scaletopk"
IMAGE_FLAGS = "--task image takes --model, --methods, --dtype, --device, --out, --force, --retry-failed, " \
              "--report-only, --quiet, --prompts, --seeds, --calibration-prompts"


def image_folder(model: str) -> Setup:
    """A setup that makes an output folder of --task image for ``model`` (seed 0)."""
    def setup(tmp: Path) -> None:
        (tmp / "run").mkdir()
        (tmp / "run" / "run_config.json").write_text(json.dumps({"task": "image", "model": model, "dtype": None,
                                                                 "seeds": [0]}))

    return setup


def class_conditioned_var(tmp: Path) -> None:
    """A saved VARPipeline folder whose transformer is conditioned on class labels (its config only)."""
    (tmp / "var" / "transformer").mkdir(parents=True)
    (tmp / "var" / "model_index.json").write_text(json.dumps({"_class_name": "VARPipeline"}))
    (tmp / "var" / "transformer" / "config.json").write_text(json.dumps({"num_classes": 10}))


def calibration_of_another_model(tmp: Path) -> None:
    """A HACK calibration of tiny:var whose recorded model config differs from tiny:var's."""
    import mmcache
    from mmcache.pipelines.loader import load

    mmcache.calibrate(load("tiny:var", device="cpu"), method="hack", prompts=["a red circle on a black background"],
                      seeds=[0], progress=False).save(tmp / "c.json")
    data = json.loads((tmp / "c.json").read_text())
    data["target"]["config_hash"] = "0" * len(data["target"]["config_hash"])
    (tmp / "c.json").write_text(json.dumps(data))


EVAL_IMAGE_CASES = [
    # malformed values: argparse, exit 2
    cli("seeds-text", "--seeds 0,x", USAGE, "argument --seeds: expects comma-separated whole numbers"),
    cli("calibration-prompts-zero", "--calibration-prompts 0", USAGE, "argument --calibration-prompts"),
    # --prompts is a count here: exit 1
    cli("prompts-a-list", "--prompts builtin", BAD_INPUT,
        "--prompts builtin: with --task image it is how many held-out images to make"),
    cli("prompts-zero", "--prompts 0", BAD_INPUT, "--prompts 0: with --task image it is how many held-out images"),
    cli("seed-past-the-limit", "--prompts 2 --seeds 9223372036854775807", BAD_INPUT,
        "image i is seeded seed + i, which must stay at most 9223372036854775807"),
    # method specs: exit 1, before any model loads
    cli("video-method", "--methods easycache:threshold=0.1", BAD_INPUT,
        f"'easycache:threshold=0.1': easycache is a video-generation method; {SCALE_KV_METHODS}, or use --task video"),
    cli("video-peer", "--methods diffusers-fbc", BAD_INPUT, "diffusers-fbc is a video-generation method"),
    cli("video-qa-method", "--methods snapkv:budget=0.2", BAD_INPUT,
        f"snapkv is a KV method of video-QA models; {SCALE_KV_METHODS}, or use --task vqa"),
    cli("method-unknown", "--methods magic:x=1", BAD_INPUT, f"Unknown method 'magic' in 'magic:x=1'; {SCALE_KV_METHODS}"),
    cli("baseline", "--methods baseline", BAD_INPUT, "the plain pipeline always runs under --task image"),
    cli("plain-with-parameters", "--methods plain:x=1", BAD_INPUT, "the plain pipeline takes no parameters"),
    cli("field-unknown", "--methods hack:budgt=0.2", BAD_INPUT, "hack has no parameter(s) ['budgt']"),
    cli("field-out-of-range", "--methods scaletopk:budget=1.5", BAD_INPUT,
        "ScaleTopKConfig.budget must be a fraction in (0, 1]"),
    cli("field-not-finite", "--methods recentscales:budget=NaN", BAD_INPUT, "'NaN' is not a finite number"),
    cli("class-budget-alone", "--methods hack:contextual_budget=0.1", BAD_INPUT,
        "give both contextual_budget and structural_budget, or neither"),
    cli("method-twice", "--methods scaletopk:budget=0.3,scaletopk", BAD_INPUT, "give each method once"),
    cli("calibration-missing", "--methods hack:calibration={tmp}/c.json", BAD_INPUT,
        "the calibration file '{tmp}/c.json' does not exist; make one with `mmcache calibrate --method hack`"),
    cli("calibration-not-json", "--methods scalekv:calibration={tmp}/c.json", BAD_INPUT,
        "not a valid mmcache calibration file (not JSON", setup=make_file("c.json", "{not json")),
    cli("calibration-null", "--methods hack:calibration=null", BAD_INPUT,
        "calibration= takes a HACK calibration file (`mmcache calibrate --method hack`); leave it out and the run "
        "uses the model's shipped file or calibrates on training captions"),
    # flags of the other tasks: exit 1
    cli("video-flags", "--steps 3 --frames 5", BAD_INPUT, f"--steps, --frames apply only to --task video; {IMAGE_FLAGS}"),
    cli("video-flag-at-its-default", "--vbench auto", BAD_INPUT, "--vbench applies only to --task video"),
    cli("vqa-flag", "--clips 3", BAD_INPUT, "--clips applies only to --task vqa; --task image takes"),
    # --report-only: exit 1
    *report_only_cases("image"),
    # the model, the device, the folder
    cli("model-generates-video", "--model tiny:wan2.1-t2v", BAD_INPUT, "--model tiny:wan2.1-t2v generates video; "
        "--task image evaluates a next-scale-prediction (VAR) image model: toy-var, tiny:var or a folder saved by "
        "VARPipeline (or evaluate it with --task video)"),
    cli("model-answers-questions", "--model tiny:vlm", BAD_INPUT,
        "--model tiny:vlm answers questions about clips (a video-QA model); --task image evaluates"),
    cli("model-unknown", "--model bogus", BAD_INPUT, "'bogus' is not a model name"),
    cli("model-folder-empty", "--model {tmp}/empty", BAD_INPUT, "holds no model_index.json",
        setup=make_folder("empty")),
    cli("model-class-conditioned", "--model {tmp}/var", BAD_INPUT, "--model {tmp}/var is class-conditioned",
        setup=class_conditioned_var),
    cli("device-missing", "--device cuda:99", BAD_INPUT, "--device cuda:99"),
    cli("out-under-a-file", "--out {tmp}/afile/run", BAD_INPUT, "is a file, not a folder", setup=make_file("afile")),
    cli("folder-of-the-vqa-task", "--methods scaletopk", BAD_INPUT,
        "{tmp}/run holds results for other settings (--task vqa, not image)", setup=vqa_folder("tiny:vlm")),
    cli("folder-of-another-model", "--methods scaletopk", BAD_INPUT,
        "holds results for other settings (model: 'toy-var' → 'tiny:var'", setup=image_folder("toy-var")),
    # needs the model: after the (tiny) model loads, before any image
    cli("calibration-of-another-model", "--methods hack:budget=0.2,calibration={tmp}/c.json", BAD_INPUT,
        "on tiny:var: This HACK calibration was made for config hash", setup=calibration_of_another_model,
        before_load=False),
]
