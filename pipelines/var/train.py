"""Train toy-var: ``python -m mmcache.pipelines.var.train <stage> [options]``.

Stages (each reproducible from ``--seed`` and resumable: rerun the same command to continue):

* ``tokenizer``    the multi-scale VQ tokenizer (exports ``<out>/tokenizer``);
* ``transformer``  the next-scale-prediction transformer on a trained tokenizer (exports ``<out>/pipeline``);
* ``recipe``       both, with toy-var's settings, under ``--root`` (``--max-minutes`` bounds the two together);
* ``install``      copy an exported pipeline into the package as the bundled ``toy-var``.

Stage options: ``python -m mmcache.pipelines.var.train <stage> --help``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

from mmcache.files import atomic_write_json

from ..loader import METHOD_PRESETS, MODELS_DIR
from ..saving import DEFAULTS_FILE, install_folder
from ..training import stage_parsers
from . import train_tokenizer, train_transformer
from .measure import CALL_KEYS
from .pipeline import is_var_folder

COMMAND = "python -m mmcache.pipelines.var.train"
HACK_CALIBRATION = "hack_calibration.json"
HACK_CALIBRATION_PROMPTS = 8
HACK_PRESET_BUDGET = 0.3
# chosen on 32 training-caption images at budgets 0.3 and 0.1 (docs/BENCHMARKS.md §6)
HACK_PRESET_SETTINGS = {"contextual_ratio": 0.75, "merge_evicted": True}
STAGES = {"tokenizer": train_tokenizer, "transformer": train_transformer}
BUNDLED_NAME = "toy-var"
# toy-var's recipe: (run folder, stage, options); ``{root}`` is the recipe's folder
RECIPE = (
    ("tokenizer", "tokenizer", "--steps 1500 --batch-size 16 --lr 4e-4 --seed 0"),
    ("transformer", "transformer", "--tokenizer {root}/tokenizer/tokenizer --steps 3000 --batch-size 32 --lr 4e-4 "
                                   "--seed 1"),
)


def recipe_runs(root: Path) -> list[tuple[list[str], Path]]:
    """The recipe's runs as ``(argv, export)`` pairs."""
    exports = {"tokenizer": train_tokenizer.EXPORT, "transformer": train_transformer.EXPORT}
    return [([stage, "--out", str(root / name), *options.format(root=root).split()], root / name / exports[stage])
            for name, stage, options in RECIPE]


def run_recipe(args: argparse.Namespace) -> None:
    """Runs (or with ``--print`` lists) the recipe's runs whose exports are missing, within ``--max-minutes``."""
    started = time.monotonic()
    for argv, export in recipe_runs(args.root):
        argv += ["--device", args.device, "--threads", str(args.threads)]
        if args.print:
            print(f"{COMMAND} {shlex.join(argv)}")
            continue
        if export.exists():
            continue
        if args.max_minutes is not None:
            left = args.max_minutes - (time.monotonic() - started) / 60
            if left <= 0:
                print("out of time; rerun the same command to continue")
                return
            argv += ["--max-minutes", f"{left:.2f}"]
        print(f"== {COMMAND} {shlex.join(argv)}", flush=True)
        main(argv)
        if not export.exists():
            print("stopped before its end; rerun the same command to continue")
            return


def install(pipeline: Path, models_dir: Path = MODELS_DIR, calibration_prompts: int = HACK_CALIBRATION_PROMPTS) -> Path:
    """Copies an exported VAR pipeline folder over the bundled ``toy-var``, with a HACK head classification made
    on training captions beside it (``hack_calibration.json``, the HACK and ScaleKV presets' file)."""
    if not is_var_folder(pipeline):
        raise FileNotFoundError(f"{pipeline} holds no exported VAR pipeline (model_index.json naming VARPipeline); "
                                "pass <transformer run>/pipeline.")
    target = models_dir / BUNDLED_NAME
    install_folder(pipeline, target, ignore=shutil.ignore_patterns(".*"))
    add_hack_presets(target, calibration_prompts)
    print(f"installed {pipeline} -> {target}")
    return target


def add_hack_presets(folder: Path, calibration_prompts: int) -> None:
    """Classifies the heads of the pipeline in ``folder`` and names the file in its method presets."""
    import mmcache

    from .captions import calibration_captions
    from .pipeline import VARPipeline

    pipe = VARPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    defaults_path = folder / DEFAULTS_FILE
    defaults = json.loads(defaults_path.read_text()) if defaults_path.is_file() else {}
    mmcache.calibrate(pipe, method="hack", prompts=calibration_captions(calibration_prompts), seeds=[0],
                      progress=False, **{key: value for key, value in defaults.items() if key in CALL_KEYS}
                      ).save(folder / HACK_CALIBRATION)
    presets = {method: {"budget": HACK_PRESET_BUDGET, "calibration": HACK_CALIBRATION} for method in ("hack", "scalekv")}
    presets["hack"].update(HACK_PRESET_SETTINGS)
    atomic_write_json(defaults_path, {**defaults, METHOD_PRESETS: {**defaults.get(METHOD_PRESETS, {}), **presets}})


def main(argv: list[str] | None = None) -> None:
    parser, stages = stage_parsers(COMMAND, __doc__, STAGES)
    sub = stages.add_parser("recipe", help="both stages with toy-var's settings; rerun to continue")
    sub.add_argument("--root", type=Path, default=Path("runs/var"), help="folder of the runs")
    sub.add_argument("--max-minutes", type=float, default=None, help="time box of the two stages together")
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--threads", type=int, default=2)
    sub.add_argument("--print", action="store_true", help="list the commands instead of running them")
    sub = stages.add_parser("install", help="copy an exported pipeline into the package as toy-var")
    sub.add_argument("pipeline", type=Path, help="exported pipeline folder (<transformer run>/pipeline)")
    args = parser.parse_args(argv)
    try:
        if args.stage == "recipe":
            run_recipe(args)
        elif args.stage == "install":
            install(args.pipeline)
        else:
            STAGES[args.stage].run(args)
    except FileNotFoundError as error:  # a wrong --tokenizer or install source: one usage error, no traceback
        parser.error(f"{args.stage}: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
