"""`mmcache eval --task vqa`: bad method specs and flags. The rows run after
``eval --task vqa --quiet --model tiny:vlm --clips 1 --out {tmp}/run`` (a later flag wins)."""

from __future__ import annotations

from .cases import BAD_INPUT, USAGE, cli, make_file, make_folder
from .table_eval_flags import other_settings_folder, report_only_cases, vqa_folder

KV_METHODS = "--task vqa takes plain (always run) and the KV methods prefixkv, pyramidkv, snapkv, streamingllm, zipvl"


EVAL_VQA_CASES = [
    # malformed values: argparse, exit 2
    cli("task-unknown", "--task audio", USAGE, "argument --task: invalid choice: 'audio'"),
    cli("clips-zero", "--clips 0", USAGE, "argument --clips: expects a whole number >= 1"),
    cli("calibration-clips-zero", "--calibration-clips 0", USAGE, "argument --calibration-clips"),
    # method specs: exit 1, before any model loads
    cli("video-method", "--methods easycache:threshold=0.1", BAD_INPUT,
        f"'easycache:threshold=0.1': easycache is a video-generation method; {KV_METHODS}, or use --task video"),
    cli("video-peer", "--methods diffusers-fbc", BAD_INPUT, "diffusers-fbc is a video-generation method"),
    cli("method-unknown", "--methods magic:x=1", BAD_INPUT, f"Unknown method 'magic' in 'magic:x=1'; {KV_METHODS}"),
    cli("scale-kv-method", "--methods hack:budget=0.3", BAD_INPUT, "'hack:budget=0.3': hack is a scale-KV method of "
        f"next-scale-prediction (VAR) image models; {KV_METHODS}, or use --task image"),
    cli("baseline", "--methods baseline", BAD_INPUT, "the plain model always runs under --task vqa"),
    cli("plain-with-parameters", "--methods plain:x=1", BAD_INPUT, "the plain model takes no parameters"),
    cli("field-unknown", "--methods snapkv:budgt=0.2", BAD_INPUT, "snapkv has no parameter(s) ['budgt']"),
    cli("field-out-of-range", "--methods zipvl:tau=2", BAD_INPUT, "ZipVLConfig.tau must be the share of attention"),
    cli("field-not-finite", "--methods snapkv:budget=NaN", BAD_INPUT, "'NaN' is not a finite number"),
    cli("method-twice", "--methods snapkv:budget=0.5,snapkv", BAD_INPUT, "give each method once"),
    cli("calibration-missing", "--methods prefixkv:calibration={tmp}/c.json", BAD_INPUT,
        "the calibration file '{tmp}/c.json' does not exist"),
    cli("calibration-not-json", "--methods prefixkv:calibration={tmp}/c.json", BAD_INPUT,
        "not a valid mmcache calibration file (not JSON", setup=make_file("c.json", "{not json")),
    # flags of the video task: exit 1
    cli("video-flags", "--steps 3 --frames 5", BAD_INPUT, "--steps, --frames apply only to --task video; --task vqa "
        "takes --model, --methods, --dtype, --device, --out, --force, --retry-failed, --report-only, --quiet, --clips, "
        "--calibration-clips"),
    cli("video-flag-at-its-default", "--fps 8", BAD_INPUT, "--fps applies only to --task video"),
    cli("prompts", "--prompts builtin --seeds 0", BAD_INPUT, "--prompts, --seeds apply only to --task video or image"),
    cli("image-flag", "--calibration-prompts 2", BAD_INPUT, "--calibration-prompts applies only to --task image"),
    cli("vbench", "--vbench off", BAD_INPUT, "--vbench applies only to --task video"),
    cli("no-warmup-run", "--no-warmup-run", BAD_INPUT, "--no-warmup-run applies only to --task video"),
    # --report-only: exit 1
    *report_only_cases("vqa", setup=vqa_folder("tiny:vlm")),
    # the model, the device, the folder
    cli("model-generates-video", "--model tiny:wan2.1-t2v", BAD_INPUT,
        "--model tiny:wan2.1-t2v generates video; --task vqa evaluates a video-QA model"),
    cli("model-makes-images", "--model tiny:var", BAD_INPUT, "--model tiny:var makes images by next-scale prediction "
        "(a VAR model); --task vqa evaluates a video-QA model"),
    cli("model-unknown", "--model bogus", BAD_INPUT, "'bogus' is not a model name"),
    cli("model-folder-empty", "--model {tmp}/empty", BAD_INPUT, "holds no model_index.json",
        setup=make_folder("empty")),
    cli("device-missing", "--device cuda:99", BAD_INPUT, "--device cuda:99"),
    cli("out-under-a-file", "--out {tmp}/afile/run", BAD_INPUT, "is a file, not a folder", setup=make_file("afile")),
    cli("folder-of-the-video-task", "--methods snapkv", BAD_INPUT,
        "{tmp}/run holds results for other settings (--task video, not vqa)", setup=other_settings_folder),
    cli("folder-of-another-model", "--methods snapkv", BAD_INPUT,
        "holds results for other settings (model: 'toy-vlm' → 'tiny:vlm'", setup=vqa_folder("toy-vlm")),
    # needs the model's head dim: after the (tiny) model loads, before any answer
    cli("zipvl-group-size", "--methods zipvl:tau=0.9", BAD_INPUT, "'zipvl:tau=0.9' on tiny:vlm: ZipVLConfig.group_size "
        "(32) must divide the model's head dim (16) to quantize its KV cache; pick a divisor of 16, e.g. group_size=16",
        before_load=False),
]
