"""`mmcache calibrate`: bad flags and prompt files. The rows run after
``calibrate --quiet --prompts builtin --out {tmp}/c.json`` (later flags win)."""

from __future__ import annotations

from .cases import BAD_INPUT, USAGE, cli, make_file

CLASS_VAR = "{tmp}/classvar"  # a saved class-conditioned VARPipeline's configs (10 classes), no weights


def class_var_folder(prompts: str | None = None):
    """A setup writing ``classvar/`` (what the checks before loading read) and, given ``prompts``, ``labels.txt``."""
    files = {"classvar/model_index.json": '{"_class_name": "VARPipeline"}',
             "classvar/transformer/config.json": '{"num_classes": 10, "condition_words": null}'}
    if prompts is not None:
        files["labels.txt"] = prompts

    def setup(tmp):
        for relative, text in files.items():
            make_file(relative, text)(tmp)

    return setup


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
    cli("limit-zero", "--limit 0", USAGE, "argument --limit: expects a whole number >= 1"),
    cli("contextual-fraction-above-one", "--method hack --model tiny:var --contextual-fraction 1.5", USAGE,
        "argument --contextual-fraction: expects a number from 0 to 1"),
    cli("top-p-above-one", "--method hack --model tiny:var --top-p 2", USAGE, "argument --top-p"),
    cli("top-k-negative", "--method hack --model tiny:var --top-k -1", USAGE, "argument --top-k"),
    cli("num-images-zero", "--method hack --model tiny:var --num-images 0", USAGE, "argument --num-images"),
    cli("contextual-fraction-for-ertacache", "--contextual-fraction 0.5", BAD_INPUT,
        "--method ertacache does not take --contextual-fraction: only --method hack"),
    cli("top-k-for-prefixkv", "--method prefixkv --model tiny:llava --top-k 5", BAD_INPUT,
        "--method prefixkv does not take --top-k"),
    cli("threshold-for-prefixkv", "--method prefixkv --model tiny:llava --threshold 0.2", BAD_INPUT,
        "--threshold are for diffusion pipelines only"),
    cli("var-model-for-ertacache", "--model tiny:var", BAD_INPUT,
        "tiny:var is a next-scale-prediction (VAR) model; calibrate it with --method hack"),
    cli("hack-without-model", "--method hack", BAD_INPUT, "--method hack needs --model: toy-var, tiny:var"),
    cli("hack-with-video-flags", "--method hack --model tiny:var --steps 4 --frames 5 --negative-prompt blurry",
        BAD_INPUT, "--method hack does not take --steps, --frames, --negative-prompt"),
    cli("hack-with-threshold", "--method hack --model tiny:var --threshold 0.2 --granularity scalar", BAD_INPUT,
        "--method hack does not take --threshold, --granularity"),
    cli("hack-with-budget", "--method hack --model tiny:var --budget 0.5", BAD_INPUT,
        "--method hack does not take --budget"),
    cli("hack-with-images", "--method hack --model tiny:var --images a.png", BAD_INPUT,
        "--method hack does not take --images"),
    cli("hack-model-unknown", "--method hack --model tiny:nope", BAD_INPUT, "No tiny pipeline 'nope'"),
    cli("hack-model-not-var", "--method hack --model tiny:wan2.1-t2v", BAD_INPUT,
        "tiny:wan2.1-t2v is not a next-scale-prediction (VAR) model"),
    cli("hack-folder-not-var", "--method hack --model {tmp}/wan", BAD_INPUT, "is not a next-scale-prediction",
        setup=make_file("wan/model_index.json", '{"_class_name": "WanPipeline"}')),
    cli("hack-folder-without-transformer", "--method hack --model {tmp}/var", BAD_INPUT,
        "has no transformer/config.json", setup=make_file("var/model_index.json", '{"_class_name": "VARPipeline"}')),
    cli("hack-guidance-below-one", "--method hack --model tiny:var --guidance-scale 0.5", BAD_INPUT,
        "--guidance-scale must be at least 1 for a VAR model"),
    cli("hack-out-not-json", "--method hack --model tiny:var --out {tmp}/c.txt", BAD_INPUT,
        "--out must end with .json"),
    cli("hack-device-missing", "--method hack --model tiny:var --device cuda:99", BAD_INPUT, "--device cuda:99"),
    cli("hack-prompts-missing", "--method hack --model tiny:var --prompts {tmp}/none.txt", BAD_INPUT,
        "none.txt' does not exist"),
    cli("hack-prompt-unknown-words", "--method hack --model tiny:var --prompts {tmp}/p.txt", BAD_INPUT,
        "has words this model does not know (dragon, pink)", setup=make_file("p.txt", "a pink dragon\n")),
    cli("hack-builtin-on-class-model", f"--method hack --model {CLASS_VAR}", BAD_INPUT,
        "--prompts builtin gives captions, but this model is class-conditioned", setup=class_var_folder()),
    cli("hack-caption-on-class-model", f"--method hack --model {CLASS_VAR} --prompts {{tmp}}/labels.txt", BAD_INPUT,
        "is not a class label; this model is class-conditioned (labels 0 … 9",
        setup=class_var_folder("3\na red circle on a black background\n")),
    cli("hack-label-out-of-range", f"--method hack --model {CLASS_VAR} --prompts {{tmp}}/labels.txt", BAD_INPUT,
        "Class label 10 is outside 0 … 9", setup=class_var_folder("3\n10\n")),
    cli("toy-other-size", "--model toy-t2v --height 32", BAD_INPUT, "toy-t2v generates 64x64 frames only",
        needs_bundled=True),
]

CALIBRATE_REQUIRED = [
    cli("prompts-required", "calibrate --out {tmp}/c.json", USAGE, "the following arguments are required: --prompts"),
    cli("out-required", "calibrate --prompts builtin", USAGE, "the following arguments are required: --out"),
]
