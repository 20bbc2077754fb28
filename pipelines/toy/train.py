"""Train the bundled reference models: ``python -m mmcache.pipelines.toy.train <stage> [options]`` (``<stage> --help``
lists a stage's options). Each stage is reproducible from ``--seed`` and resumable: rerun the same command."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

from ..loader import MODELS_DIR, VIDEO_BUNDLED, ModelNotFoundError
from ..saving import install_folder
from ..training import add_device_arguments, stage_parsers
from . import denoiser, train_vae
from .recipes import TARGETS, steps_for

COMMAND = "python -m mmcache.pipelines.toy.train"
STAGES = {  # the first line of each run's docstring is the stage's help
    "vae": SimpleNamespace(add_arguments=train_vae.add_arguments, run=train_vae.train_vae),
    "latents": SimpleNamespace(add_arguments=train_vae.add_latents_arguments, run=train_vae.encode_latents),
    "t2v": SimpleNamespace(add_arguments=denoiser.add_t2v_arguments, run=denoiser.train_t2v),
    "df": SimpleNamespace(add_arguments=denoiser.add_df_arguments, run=denoiser.train_df),
    "anchors": SimpleNamespace(add_arguments=train_vae.add_anchors_arguments, run=train_vae.sample_anchors),
}


def install(pipelines: dict[str, Path], models_dir: Path = MODELS_DIR, vae: Path | None = None) -> None:
    """Replace bundled folders (``{"toy-df": exported pipeline}``) with exported pipelines (a bundled folder named as
    its own source stays) and their VAE with ``vae`` where given; installed configs lose ``_name_or_path``."""
    if vae is not None and not (vae / "config.json").is_file():
        raise FileNotFoundError(f"{vae} holds no exported VAE (config.json).")
    if vae is not None and any(vae.resolve().is_relative_to((models_dir / name).resolve()) for name in pipelines):
        raise ValueError(f"{vae} is inside the folders being replaced; copy it elsewhere first.")
    for name, source in pipelines.items():
        if not (source / "model_index.json").is_file():
            raise FileNotFoundError(f"{source} holds no exported pipeline (model_index.json).")
        target = models_dir / name
        install_folder(source, target)
        if vae is not None:
            install_folder(vae, target / "vae")
        print(f"installed {source} -> {target}" + (f" (VAE from {vae})" if vae is not None else ""))


def run_recipe(args: argparse.Namespace) -> None:
    """Runs (or with ``--print`` lists) the steps of ``args.model``'s recipe whose exports are missing."""
    for step in steps_for(args.model):
        argv = step.argv(args.root) + ["--device", args.device, "--threads", str(args.threads)]
        if args.print:
            print(f"{COMMAND} {shlex.join(argv)}")
        elif not step.export(args.root).exists():
            print(f"== {step.name}: {COMMAND} {shlex.join(argv)}", flush=True)
            main(argv)
            if not step.export(args.root).exists():
                print(f"{step.name} stopped before its end; rerun the same command to continue")
                return


def main(argv: list[str] | None = None) -> None:
    parser, stages = stage_parsers(COMMAND, __doc__, STAGES)
    sub = stages.add_parser("install", help="copy exported pipelines (and a VAE) into the package's models folder")
    for name in VIDEO_BUNDLED:  # --t2v, --df, --ar
        sub.add_argument(f"--{name.removeprefix('toy-')}", type=Path, help=f"exported pipeline to install as {name}")
    sub.add_argument("--vae", type=Path, default=None, help="exported VAE to use instead of the pipelines' own")
    sub = stages.add_parser("recipe", help="every run that made a bundled model, in order; rerun to continue")
    sub.add_argument("model", choices=sorted(TARGETS))
    sub.add_argument("--root", type=Path, default=Path("runs/toy"), help="folder of the runs")
    sub.add_argument("--print", action="store_true", help="list the commands instead of running them")
    add_device_arguments(sub)
    args = parser.parse_args(argv)
    if args.stage == "install":
        pipelines = {name: getattr(args, name.removeprefix("toy-")) for name in VIDEO_BUNDLED}
        if not any(pipelines.values()):
            parser.error("install: name at least one exported pipeline (--t2v, --df, --ar).")
        try:
            install({name: path for name, path in pipelines.items() if path}, vae=args.vae)
        except FileNotFoundError as error:  # a wrong source folder: say so, no traceback
            parser.error(f"install: {error}")
    elif args.stage == "recipe":
        run_recipe(args)
    else:
        try:
            STAGES[args.stage].run(args)
        except ModelNotFoundError as error:  # a wrong --init / --text-encoder / --model: say so, no traceback
            parser.error(f"{args.stage}: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
