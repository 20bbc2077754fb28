"""Average the transformer weights of pipelines fine-tuned one from another (a weight average, "model soup").

    python -m mmcache.pipelines.toy.train average --out runs/toy/dfp-soup4 \\
        runs/toy/dfp-start2 runs/toy/dfp-start3 runs/toy/dfp-gray1 runs/toy/dfp-obj1

The first folder is copied whole (VAE, text encoder, scheduler, ``mmcache_defaults.json``); only its
``transformer/`` weights are replaced by the element-wise mean over all folders. The result appears at
``--out`` in one rename, so a half-written pipeline is never left there.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = Path("transformer") / "diffusion_pytorch_model.safetensors"
CONFIG = Path("transformer") / "config.json"


def _read(folder: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    if not (folder / WEIGHTS).is_file() or not (folder / CONFIG).is_file():
        raise ValueError(f"{folder} is not a saved pipeline folder (no {WEIGHTS} or {CONFIG}); "
                         "pass folders written by `train t2v`/`train df` or `save_pretrained`.")
    return json.loads((folder / CONFIG).read_text()), load_file(str(folder / WEIGHTS))


def mean_state(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of state dicts with the same keys and shapes, in each tensor's own dtype."""
    return {key: (sum(state[key].double() for state in states) / len(states)).to(states[0][key].dtype)
            for key in states[0]}


def average_transformers(folders: Sequence[Path], out: Path) -> Path:
    """Write to ``out`` a copy of ``folders[0]`` whose transformer weights are the mean over ``folders``."""
    if len(folders) < 2:
        raise ValueError("average needs at least two pipeline folders.")
    if out.exists():
        raise ValueError(f"{out} exists; remove it or choose another --out.")
    config, first = _read(folders[0])
    states = [first]
    for folder in folders[1:]:
        other_config, state = _read(folder)
        unequal = {k for k in set(config) | set(other_config)
                   if not k.startswith("_") and config.get(k) != other_config.get(k)}
        shapes = {k: tuple(v.shape) for k, v in state.items()} != {k: tuple(v.shape) for k, v in first.items()}
        if unequal or shapes:
            raise ValueError(f"{folder}'s transformer differs from {folders[0]}'s "
                             f"({'config ' + str(sorted(unequal)) if unequal else 'weight names or shapes'}); "
                             "only transformers of one architecture can be averaged.")
        states.append(state)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        shutil.copytree(folders[0], staging, dirs_exist_ok=True)
        save_file(mean_state(states), str(staging / WEIGHTS), metadata={"format": "pt"})
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
