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
import shlex
import shutil
import sys
import time
from pathlib import Path

from ..loader import MODELS_DIR
from ..saving import install_folder
from ..training import stage_parsers
from . import train_tokenizer, train_transformer
from .pipeline import is_var_folder

COMMAND = "python -m mmcache.pipelines.var.train"
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


def install(pipeline: Path, models_dir: Path = MODELS_DIR) -> Path:
    """Copies an exported VAR pipeline folder over the bundled ``toy-var``."""
    if not is_var_folder(pipeline):
        raise FileNotFoundError(f"{pipeline} holds no exported VAR pipeline (model_index.json naming VARPipeline); "
                                "pass <transformer run>/pipeline.")
    target = models_dir / BUNDLED_NAME
    install_folder(pipeline, target, ignore=shutil.ignore_patterns(".*"))
    print(f"installed {pipeline} -> {target}")
    return target


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
