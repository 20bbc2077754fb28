"""`mmcache ask`: every flag's bad values. Each row: id, flags, exit code, message.

The rows run after ``ask --model tiny:vlm --question "what shape is it?"`` (a later flag wins).
"""

from __future__ import annotations

from .cases import BAD_INPUT, USAGE, cli, make_file, make_folder

CAPTION = ["--frames-from-caption", "a red circle moving left"]

ASK_CASES = [
    # malformed values: argparse, exit 2
    cli("no-clip", "", USAGE, "one of the arguments --video --frames-from-caption is required"),
    cli("video-and-caption", ["--video", "x.mp4", *CAPTION], USAGE, "not allowed with argument"),
    cli("question-blank", [*CAPTION, "--question", "  "], USAGE, "argument --question: is empty"),
    cli("frames-zero", [*CAPTION, "--frames", "0"], USAGE, "argument --frames: expects a whole number >= 1"),
    cli("seed-negative", [*CAPTION, "--seed", "-1"], USAGE, "argument --seed"),
    cli("max-new-tokens-zero", [*CAPTION, "--max-new-tokens", "0"], USAGE, "argument --max-new-tokens"),
    cli("timing-runs-zero", [*CAPTION, "--compare", "--timing-runs", "0"], USAGE, "argument --timing-runs"),
    cli("dtype-unknown", [*CAPTION, "--dtype", "float64"], USAGE, "argument --dtype: invalid choice"),
    # values that parse but cannot be used: exit 1, before any model loads
    cli("video-missing", "--video {tmp}/none.mp4", BAD_INPUT, "--video '{tmp}/none.mp4' is not a file"),
    cli("video-is-a-folder", "--video {tmp}/clips", BAD_INPUT, "is a folder", setup=make_folder("clips")),
    cli("video-not-a-video", "--video {tmp}/notes.mp4", BAD_INPUT, "could not be decoded as a video",
        setup=make_file("notes.mp4", "not a video")),
    cli("caption-outside-the-grammar", ["--frames-from-caption", "a red blob moving left"], BAD_INPUT,
        "--frames-from-caption: Unknown shape 'blob'"),
    cli("caption-not-a-caption", ["--frames-from-caption", "hello"], BAD_INPUT, "does not follow the grammar"),
    cli("model-generates-video", [*CAPTION, "--model", "tiny:wan2.1-t2v"], BAD_INPUT,
        "--model tiny:wan2.1-t2v generates video; `mmcache ask` needs a video-QA model"),
    cli("model-unknown", [*CAPTION, "--model", "bogus"], BAD_INPUT, "'bogus' is not a model name"),
    cli("model-folder-empty", [*CAPTION, "--model", "{tmp}/empty"], BAD_INPUT, "nor config.json and "
        "processor_config.json", setup=make_folder("empty")),
    cli("compare-without-method", [*CAPTION, "--compare"], BAD_INPUT, "--compare compares a method"),
    cli("timing-runs-without-compare", [*CAPTION, "--timing-runs", "2"], BAD_INPUT, "applies only with --compare"),
    cli("step-method", [*CAPTION, "--method", "easycache"], BAD_INPUT,
        "--method easycache skips denoising steps, and a video-QA model has none"),
    cli("method-unknown", [*CAPTION, "--method", "magic"], BAD_INPUT, "Unknown --method 'magic'"),
    cli("method-none-with-knobs", [*CAPTION, "--kv-budget", "64"], BAD_INPUT, "takes no method parameters"),
    cli("stats-json-suffix", [*CAPTION, "--stats-json", "{tmp}/s.txt"], BAD_INPUT, "--stats-json must end with .json"),
    cli("device-missing", [*CAPTION, "--device", "cuda:99"], BAD_INPUT, "--device cuda:99"),
    # needs the vocabulary: after the (tiny) model loads
    cli("question-unknown-words", [*CAPTION, "--question", "what hue is it"], BAD_INPUT,
        "tiny:vlm does not know the word(s) 'hue'", before_load=False),
]
