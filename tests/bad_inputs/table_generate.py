"""`mmcache generate`: every flag's bad values. Each row: id, flags, exit code, message.

The rows run after ``generate --quiet --out {tmp}/v.mp4`` (a later --out wins).
"""

from __future__ import annotations

from .cases import BAD_INPUT, USAGE, cli, make_file, make_folder

TINY = "--model tiny:wan2.1-t2v --steps 2"
TOY = "--model toy-t2v --steps 2"

GENERATE_CASES = [
    # malformed values: argparse, exit 2
    cli("steps-zero", "--steps 0", USAGE, "argument --steps: expects a whole number >= 1"),
    cli("steps-negative", "--steps -3", USAGE, "argument --steps"),
    cli("steps-fraction", "--steps 2.5", USAGE, "argument --steps: expects a whole number, got '2.5'"),
    cli("steps-text", "--steps many", USAGE, "argument --steps: expects a whole number"),
    cli("seed-negative", "--seed -1", USAGE, "argument --seed: expects a whole number from 0 to"),
    cli("seed-too-large", f"--seed {2**64}", USAGE, "argument --seed"),
    cli("height-zero", "--height 0", USAGE, "argument --height"),
    cli("width-negative", "--width -16", USAGE, "argument --width"),
    cli("frames-zero", "--frames 0", USAGE, "argument --frames"),
    cli("guidance-nan", "--guidance-scale nan", USAGE, "argument --guidance-scale: expects a finite number"),
    cli("guidance-inf", "--guidance-scale inf", USAGE, "expects a finite number"),
    cli("guidance-negative", "--guidance-scale -1", USAGE, "argument --guidance-scale: expects a number >= 0"),
    cli("guidance-text", "--guidance-scale strong", USAGE, "argument --guidance-scale: expects a number"),
    cli("upscale-zero", "--upscale 0", USAGE, "argument --upscale: expects a whole number >= 1"),
    cli("upscale-negative", "--upscale -3", USAGE, "argument --upscale"),
    cli("fps-zero", "--fps 0", USAGE, "argument --fps"),
    cli("timing-runs-zero", "--compare --timing-runs 0", USAGE, "argument --timing-runs"),
    cli("threshold-nan", "--threshold nan", USAGE, "argument --threshold: expects a finite number"),
    cli("threshold-text", "--threshold fast", USAGE, "argument --threshold: expects a number"),
    cli("warmup-negative", "--warmup-steps -1", USAGE, "argument --warmup-steps"),
    cli("final-steps-negative", "--final-steps -2", USAGE, "argument --final-steps"),
    cli("dtype-unknown", "--dtype float64", USAGE, "argument --dtype: invalid choice: 'float64'"),
    cli("unknown-flag", "--colour red", USAGE, "unrecognized arguments: --colour red"),
    cli("flag-without-value", "--steps", USAGE, "argument --steps: expected one argument"),
    # values that parse but cannot be used: exit 1, before any model loads
    cli("prompt-blank", ["--prompt", "   "], BAD_INPUT, "--prompt is empty"),
    cli("out-not-mp4", "--out {tmp}/video.gif", BAD_INPUT, "--out must end with .mp4"),
    cli("out-parent-is-a-file", "--out {tmp}/afile/a.mp4", BAD_INPUT, "'{tmp}/afile' is a file, not a folder",
        setup=make_file("afile")),
    cli("out-is-a-folder", "--out {tmp}/v.mp4", BAD_INPUT, "is a folder", setup=make_folder("v.mp4")),
    cli("compare-output-is-a-folder", "--compare --out {tmp}/v.mp4", BAD_INPUT, "v_compare.mp4' is a folder",
        setup=make_folder("v_compare.mp4")),
    cli("stats-json-suffix", "--stats-json {tmp}/s.txt", BAD_INPUT, "--stats-json must end with .json"),
    cli("stats-json-parent-file", "--stats-json {tmp}/afile/s.json", BAD_INPUT, "is a file, not a folder",
        setup=make_file("afile")),
    cli("device-missing", "--device cuda:99", BAD_INPUT, "--device cuda:99"),
    cli("device-unknown", "--device gpu0", BAD_INPUT, "--device 'gpu0' is not a device name"),
    cli("device-mps", "--device mps", BAD_INPUT, "--device mps"),
    cli("model-unknown", "--model bogus", BAD_INPUT, "'bogus' is not a model name"),
    cli("model-missing-folder", "--model ./missing/folder", BAD_INPUT, "not a model name, an existing folder"),
    cli("model-tiny-unknown", "--model tiny:nope", BAD_INPUT, "No tiny pipeline 'nope'"),
    cli("model-video-qa", "--model tiny:vlm", BAD_INPUT, "tiny:vlm is a video-QA model: it answers questions"),
    cli("model-folder-not-pipeline", "--model {tmp}/empty", BAD_INPUT, "holds no model_index.json",
        setup=make_folder("empty")),
    cli("method-unknown", "--method magic", BAD_INPUT, "Unknown --method 'magic'"),
    cli("method-none-with-knobs", "--method none --threshold 0.1", BAD_INPUT, "takes no method parameters"),
    cli("threshold-negative", "--threshold -1", BAD_INPUT, "threshold must be >= 0"),
    cli("param-unknown", "--param tau=3", BAD_INPUT, "no parameter"),
    cli("param-not-a-number", "--param threshold=abc", BAD_INPUT, "threshold must be a finite number"),
    cli("preset-unknown", "--preset nope", BAD_INPUT, "No easycache preset for 'nope'; presets are keyed by model family"),
    cli("ertacache-without-calibration", "--method ertacache", BAD_INPUT, "needs calibration="),
    cli("ertacache-missing-calibration", "--method ertacache --calibration {tmp}/none.json", BAD_INPUT,
        "none.json does not exist"),
    cli("compare-without-method", "--compare --method none", BAD_INPUT, "--compare compares a cache method"),
    cli("timing-runs-without-compare", "--timing-runs 3", BAD_INPUT, "--timing-runs applies only with --compare"),
    cli("no-warmup-without-compare", "--no-warmup-run", BAD_INPUT, "--no-warmup-run applies only with --compare"),
    cli("toy-huge-size", f"{TOY} --height 4096 --width 4096", BAD_INPUT, "toy-t2v generates 64x64 frames only",
        needs_bundled=True),
    cli("toy-other-size", f"{TOY} --height 32", BAD_INPUT, "set both to 64 or leave them out", needs_bundled=True),
    cli("toy-frames-not-4k-plus-1", f"{TOY} --frames 18", BAD_INPUT, "--frames must be 4·k + 1 for toy-t2v",
        needs_bundled=True),
    cli("toy-too-many-frames", f"{TOY} --frames 2001", BAD_INPUT, "at most 253", needs_bundled=True),
    # checks that need the (tiny, fast) model loaded
    cli("tiny-height-not-multiple", f"{TINY} --height 40", BAD_INPUT, "--height must be a multiple of 16",
        before_load=False),
    cli("tiny-height-beyond-rope", f"{TINY} --height 4096", BAD_INPUT, "--height 4096 is larger than",
        before_load=False),
    cli("tiny-frames-not-4k-plus-1", f"{TINY} --frames 6", BAD_INPUT, "--frames must be 4·k + 1",
        before_load=False),
    cli("image-model-frames", "--model tiny:flux --steps 2 --frames 5", BAD_INPUT,
        "--frames: FluxPipeline takes no num_frames argument", before_load=False),
]
