"""A view of a saved flow-matching pipeline with its sampler swapped for flow-matching Euler.

ERTACache's timestep adjustment is defined on the Euler step of a flow-matching sampler; the Wan
family (the bundled ``toy-t2v`` included) ships UniPC. ``euler_variant`` writes a folder whose
components are links to the original weights and whose scheduler is a
``FlowMatchEulerDiscreteScheduler`` with the same shift, so that every method can be compared under
the Euler sampler with the ordinary ``--model FOLDER`` mechanism.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .loader import DEFAULTS_FILE, TINY_PREFIX, pipeline_folder


def saved_folder(name_or_path: str) -> Path:
    """The folder of a bundled model name or a local pipeline folder (``model_index.json`` inside)."""
    if name_or_path.startswith(TINY_PREFIX):
        raise ValueError(f"{name_or_path!r} is built in memory; an Euler variant needs a saved pipeline folder "
                         "(a bundled model such as toy-t2v, or a local folder).")
    return pipeline_folder(name_or_path)


def flow_shift(scheduler_config: dict) -> float:
    """The sigma shift of a flow-matching scheduler config (UniPC's ``flow_shift`` or Euler's ``shift``)."""
    if scheduler_config.get("use_flow_sigmas") or "flow_shift" in scheduler_config:
        return float(scheduler_config.get("flow_shift", 1.0))
    if scheduler_config.get("_class_name") == "FlowMatchEulerDiscreteScheduler":
        return float(scheduler_config.get("shift", 1.0))
    raise ValueError(f"{scheduler_config.get('_class_name')} is not a flow-matching scheduler; "
                     "an Euler flow-matching variant would change what the model was trained for.")


def euler_variant(name_or_path: str, out: Path) -> Path:
    """Write ``out``: the pipeline of ``name_or_path`` with a flow-matching Euler scheduler; returns ``out``."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    source = saved_folder(name_or_path).resolve()
    config = json.loads((source / "scheduler" / "scheduler_config.json").read_text())
    scheduler = FlowMatchEulerDiscreteScheduler(shift=flow_shift(config),
                                                num_train_timesteps=int(config.get("num_train_timesteps", 1000)))
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    index = json.loads((source / "model_index.json").read_text())
    for name, spec in index.items():
        if name.startswith("_") or name == "scheduler" or not isinstance(spec, list) or spec[0] is None:
            continue
        (out / name).symlink_to(source / name, target_is_directory=True)
    scheduler.save_pretrained(str(out / "scheduler"))
    index["scheduler"] = ["diffusers", "FlowMatchEulerDiscreteScheduler"]
    (out / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    if (source / DEFAULTS_FILE).is_file():
        shutil.copy(source / DEFAULTS_FILE, out / DEFAULTS_FILE)
    return out
