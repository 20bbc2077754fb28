"""`mmcache calibrate`: bad flags and prompt files. The rows run after
``calibrate --quiet --prompts builtin --out {tmp}/c.json`` (later flags win)."""

from __future__ import annotations

from .cases import BAD_INPUT, USAGE, cli, make_file

CALIBRATE_CASES = [
    cli("steps-zero", "--steps 0", USAGE, "argument --steps: expects a whole number >= 1"),
    cli("seeds-empty", ["--seeds", ""], USAGE, "argument --seeds: is empty"),
    cli("seeds-text", "--seeds 0,x", USAGE, "argument --seeds: expects comma-separated whole numbers"),
    cli("seeds-repeated", "--seeds 0,0", USAGE, "argument --seeds: repeats a seed"),
    cli("seeds-negative", "--seeds -1", USAGE, "argument --seeds"),
    cli("threshold-nan", "--threshold nan", USAGE, "argument --threshold: expects a finite number"),
    cli("final-steps-negative", "--final-steps -1", USAGE, "argument --final-steps"),
    cli("granularity-unknown", "--granularity pixel", USAGE, "argument --granularity: invalid choice"),
    cli("method-unknown", "--method easycache", USAGE, "argument --method: invalid choice"),
    cli("guidance-negative", "--guidance-scale -1", USAGE, "argument --guidance-scale"),
    cli("dtype-unknown", "--dtype half", USAGE, "argument --dtype: invalid choice"),
    cli("height-zero", "--height 0", USAGE, "argument --height"),
    cli("out-not-json", "--out {tmp}/c.txt", BAD_INPUT, "--out must end with .json"),
    cli("out-parent-is-a-file", "--out {tmp}/afile/c.json", BAD_INPUT, "is a file, not a folder",
        setup=make_file("afile")),
    cli("prompts-missing", "--prompts {tmp}/none.txt", BAD_INPUT, "none.txt' does not exist"),
    cli("prompts-empty", "--prompts {tmp}/p.txt", BAD_INPUT, "No prompts in", setup=make_file("p.txt", "\n  \n")),
    cli("prompts-bad-json", "--prompts {tmp}/p.json", BAD_INPUT, "is not valid JSON",
        setup=make_file("p.json", "[\"a\", ")),
    cli("prompts-json-object", "--prompts {tmp}/p.json", BAD_INPUT, "must hold a JSON list",
        setup=make_file("p.json", "{\"a\": 1}")),
    cli("prompts-json-number", "--prompts {tmp}/p.json", BAD_INPUT, "is not a prompt string",
        setup=make_file("p.json", "[1, 2]")),
    cli("device-missing", "--device cuda:99", BAD_INPUT, "--device cuda:99"),
    cli("model-unknown", "--model bogus", BAD_INPUT, "'bogus' is not a model name"),
    cli("budget-zero", "--method prefixkv --model tiny:llava --budget 0", USAGE,
        "argument --budget: expects a fraction between 0 and 1"),
    cli("budget-one", "--method prefixkv --model tiny:llava --budget 1", USAGE, "argument --budget"),
    cli("budget-text", "--budget half", USAGE, "argument --budget: expects a number"),
    cli("budget-for-ertacache", "--budget 0.5", BAD_INPUT, "--budget and --images belong to --method prefixkv"),
    cli("prefixkv-without-model", "--method prefixkv", BAD_INPUT, "--method prefixkv needs --model"),
    cli("prefixkv-with-steps", "--method prefixkv --model tiny:llava --steps 4", BAD_INPUT,
        "--steps are for diffusion pipelines only"),
    cli("prefixkv-model-unknown", "--method prefixkv --model tiny:nope", BAD_INPUT,
        "'tiny:nope' is neither a tiny vision-language model", before_load=False),
    cli("prefixkv-folder-without-images", "--method prefixkv --model {tmp}/vlm", BAD_INPUT, "needs --images"),
    cli("toy-other-size", "--model toy-t2v --height 32", BAD_INPUT, "toy-t2v generates 64x64 frames only",
        needs_bundled=True),
]

CALIBRATE_REQUIRED = [
    cli("prompts-required", "calibrate --out {tmp}/c.json", USAGE, "the following arguments are required: --prompts"),
    cli("out-required", "calibrate --prompts builtin", USAGE, "the following arguments are required: --out"),
]
