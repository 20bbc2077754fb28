"""Train the bundled reference models: ``python -m mmcache.pipelines.toy.train <stage> [options]``.

Stages (each reproducible from ``--seed`` and resumable: rerun the same command to continue):

* ``vae``      train the AutoencoderKLWan on synthetic clips;
* ``latents``  encode the training clips once with it (sets the VAE's latents_mean / latents_std);
* ``decoder``  (in ``all`` only) fine-tune the VAE decoder on full clips (``vae --decoder-only``);
* ``t2v``      train toy-t2v's transformer + text encoder (flow matching);
* ``df``       train toy-df's transformer (diffusion forcing), initialised from toy-t2v;
* ``anchors``  sample latents from a trained pipeline, to anchor a decoder fine-tune (``vae --anchor-latents``);
* ``install``  copy the exported pipelines into ``mmcache/pipelines/toy/models``;
* ``average``  a pipeline whose transformer is the mean of several fine-tuned ones (``average_weights``);
* ``all``      every stage in order under ``--root``, with a preset (``cpu`` or ``gpu``), stopping
  cleanly after ``--max-minutes`` (rerun to continue; finished stages are skipped).

Stage options: ``python -m mmcache.pipelines.toy.train <stage> --help``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from ..loader import BUNDLED, MODELS_DIR, ModelNotFoundError
from . import anchors, latents, train_df, train_t2v, train_vae
from .assemble import forget_source_paths
from .average_weights import average_transformers
from .configs import PATCH, PATCH_CHOICES

STAGES = {"vae": train_vae, "latents": latents, "t2v": train_t2v, "df": train_df, "anchors": anchors}

DECODER_ONLY = ["--decoder-only", "--crop", "64", "--clip-frames", "17", "--lr", "1e-4", "--warmup", "50",
                "--eval-every", "250"]

# Step counts and batch sizes per preset. On the 2-core CPU the cpu preset takes about 6 hours at the
# default patch 2 (docs/MODELS.md#status has the measured cost of each stage). t2v gives half of its
# samples a clean first latent frame, what taught the shipped toy-t2v the motion word (docs/MODELS.md,
# "The motion word is ignored"); df cuts the windows that train a clip's first latent frame from the
# clip's start, the fix for toy-df's green first frames (docs/MODELS.md, "A green cast over the first frames").
T2V_CLEAN_FIRST_FRAME = ["--clean-first-frame", "0.5"]
PRESETS: dict[str, dict[str, list[str]]] = {
    "cpu": {
        "vae": ["--steps", "4000", "--batch-size", "8", "--crop", "24"],
        "latents": ["--count", "5000"],
        "decoder": DECODER_ONLY + ["--steps", "750", "--batch-size", "2"],
        "t2v": ["--steps", "4500", "--batch-size", "32", "--eval-every", "1500"] + T2V_CLEAN_FIRST_FRAME,
        "df": ["--steps", "1500", "--batch-size", "32", "--start-windows-at-clip-start"],
    },
    "gpu": {
        "vae": ["--steps", "8000", "--batch-size", "16", "--crop", "32"],
        "latents": ["--count", "20000", "--batch-size", "50"],
        "decoder": DECODER_ONLY + ["--steps", "2000", "--batch-size", "8"],
        "t2v": ["--steps", "20000", "--batch-size", "128"] + T2V_CLEAN_FIRST_FRAME,
        "df": ["--steps", "8000", "--batch-size", "128", "--start-windows-at-clip-start"],
    },
}
# ``all`` runs these in order; ``decoder`` is the ``vae`` stage in --decoder-only mode.
ALL_STAGES = {"vae": train_vae, "latents": latents, "decoder": train_vae, "t2v": train_t2v, "df": train_df}


def stage_outputs(root: Path) -> dict[str, Path]:
    """The file or folder whose existence means a stage of ``all`` is finished."""
    return {"vae": root / "vae" / "vae", "latents": root / "latents" / "stats.json",
            "decoder": root / "decoder" / "vae", "t2v": root / "t2v" / "pipeline", "df": root / "df" / "pipeline"}


def install(t2v: Path, df: Path, models_dir: Path = MODELS_DIR, vae: Path | None = None) -> None:
    """Replace the bundled ``toy-t2v`` / ``toy-df`` folders with exported pipelines.

    ``vae``: an exported VAE (e.g. from a ``--decoder-only`` fine-tune) that replaces the pipelines' own.
    A source that is already the bundled folder is kept as it is, so
    ``install --t2v <models>/toy-t2v --df <models>/toy-df --vae <decoder>`` swaps only the VAE.
    The installed configs lose ``_name_or_path`` (a path on the training machine).
    """
    if vae is not None and not (vae / "config.json").is_file():
        raise FileNotFoundError(f"{vae} holds no exported VAE (config.json).")
    if vae is not None and any(vae.resolve().is_relative_to((models_dir / name).resolve()) for name in BUNDLED):
        raise ValueError(f"{vae} is inside the folders being replaced; copy it elsewhere first.")
    for name, source in (("toy-t2v", t2v), ("toy-df", df)):
        if not (source / "model_index.json").is_file():
            raise FileNotFoundError(f"{source} holds no exported pipeline (model_index.json).")
        target = models_dir / name
        if target.resolve() != source.resolve():  # the bundled folder itself: keep it, swap only the VAE
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target)
        if vae is not None:
            shutil.rmtree(target / "vae")
            shutil.copytree(vae, target / "vae")
        forget_source_paths(target)
        print(f"installed {source} -> {target}" + (f" (VAE from {vae})" if vae is not None else ""))


def run_all(args: argparse.Namespace) -> None:
    root: Path = args.root
    outputs = stage_outputs(root)
    started = time.monotonic()
    common = ["--seed", str(args.seed), "--device", args.device, "--threads", str(args.threads)]
    paths = {
        "vae": ["--out", str(root / "vae")],
        "latents": ["--vae", str(outputs["vae"]), "--out", str(root / "latents")],
        "decoder": ["--init", str(root / "latents" / "vae"), "--out", str(root / "decoder")],
        "t2v": ["--latents", str(root / "latents"), "--out", str(root / "t2v"), "--patch-size", str(args.patch_size)],
        "df": ["--latents", str(root / "latents"), "--init", str(outputs["t2v"]), "--out", str(root / "df")],
    }
    for name, module in ALL_STAGES.items():
        if outputs[name].exists():
            continue
        argv = paths[name] + PRESETS[args.preset][name] + common
        if args.max_minutes is not None:
            left = args.max_minutes - (time.monotonic() - started) / 60
            if left <= 0.5:
                print("time box used up; rerun the same command to continue")
                return
            argv += ["--max-minutes", f"{left:.2f}"]
        parser = argparse.ArgumentParser(prog=f"train {name}")
        module.add_arguments(parser)
        print(f"== stage {name}: {' '.join(argv)}", flush=True)
        module.run(parser.parse_args(argv))
        if not outputs[name].exists():
            print(f"stage {name} paused; rerun the same command to continue")
            return
    if args.install:
        install(outputs["t2v"], outputs["df"], vae=outputs["decoder"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mmcache.pipelines.toy.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    stages = parser.add_subparsers(dest="stage", required=True)
    for name, module in STAGES.items():
        module.add_arguments(stages.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0]))
    sub = stages.add_parser("install", help="copy exported pipelines into the package's models folder")
    sub.add_argument("--t2v", type=Path, required=True)
    sub.add_argument("--df", type=Path, required=True)
    sub.add_argument("--vae", type=Path, default=None, help="exported VAE to use instead of the pipelines' own")
    sub = stages.add_parser("average", help="average the transformer weights of fine-tuned pipelines (model soup)")
    sub.add_argument("--out", type=Path, required=True, help="new folder: the first pipeline with the averaged transformer")
    sub.add_argument("folders", type=Path, nargs="+", help="two or more pipeline folders of one architecture")
    sub = stages.add_parser("all", help="every stage in order, resumable")
    sub.add_argument("--root", type=Path, default=Path("runs/toy"))
    sub.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--threads", type=int, default=2)
    sub.add_argument("--max-minutes", type=float, default=None)
    sub.add_argument("--patch-size", type=int, default=PATCH, choices=PATCH_CHOICES,
                     help=f"spatial patch of the t2v transformer (df inherits it); default {PATCH}, as in both shipped "
                          "models; 4 trains about 3x faster and follows prompts worse")
    sub.add_argument("--install", action="store_true", help="install the pipelines into the package at the end")
    args = parser.parse_args(argv)
    if args.stage == "all":
        run_all(args)
    elif args.stage == "install":
        install(args.t2v, args.df, vae=args.vae)
    elif args.stage == "average":
        try:
            print(f"averaged {len(args.folders)} transformers into {average_transformers(args.folders, args.out)}")
        except ValueError as error:
            parser.error(f"average: {error}")
    else:
        try:
            STAGES[args.stage].run(args)
        except ModelNotFoundError as error:  # a wrong --init / --text-encoder: say so, no traceback
            parser.error(f"{args.stage}: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
