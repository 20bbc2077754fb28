"""Install a trained toy-vlm: ``python -m mmcache.pipelines.vlm.install runs/vlm/model``.

Checks that the folder loads as a ``VideoQAPipeline`` and fits the bundled-size limit, then copies it over
``pipelines/toy/models/toy-vlm`` without the paths it was saved from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..loader import MODELS_DIR, is_vlm_folder
from ..saving import install_folder
from .pipeline import VideoQAPipeline

NAME = "toy-vlm"
MAX_BYTES = 40 * 2**20


def install(source: Path, models_dir: Path = MODELS_DIR) -> Path:
    """Copies the saved pipeline ``source`` to ``models_dir / toy-vlm``; returns the installed folder."""
    if not is_vlm_folder(source):
        raise FileNotFoundError(f"{source} holds no saved video-QA model (config.json and processor_config.json); "
                                "pass the trainer's export, e.g. runs/vlm/model.")
    size = sum(file.stat().st_size for file in source.rglob("*") if file.is_file())
    if size > MAX_BYTES:
        raise ValueError(f"{source} holds {size / 2**20:.1f} MiB; bundled models stay under {MAX_BYTES // 2**20} MiB.")
    VideoQAPipeline.from_pretrained(source)  # it loads
    target = models_dir / NAME
    install_folder(source, target)
    print(f"installed {source} -> {target}")
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mmcache.pipelines.vlm.install", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="the trainer's export (--out of the run, then /model)")
    args = parser.parse_args(argv)
    try:
        install(args.source)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))


if __name__ == "__main__":
    main(sys.argv[1:])
