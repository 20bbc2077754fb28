"""The HACK calibration an Image (VAR) request uses when its calibration knob is empty, and where it came from.

A model that ships one (``toy-var``: ``hack_calibration.json`` in its method presets) uses that file. Any other
(``tiny:var``, a saved folder without presets) is calibrated once, on ``CALIBRATION_CAPTIONS`` training captions,
the first time a request needs it; the file is kept with the loaded model (``LoadedModel.derived``) and reused
until the model leaves the demo's model cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Callable

from mmcache.methods.base import MethodConfig
from mmcache.pipelines.loader import method_preset

from .state import LoadedModel

CALIBRATION_CAPTIONS = 4
DERIVED_KEY = "hack_calibration"


def takes_calibration(config: MethodConfig) -> bool:
    return "calibration" in {field.name for field in dataclasses.fields(config)}


def shipped_calibration(model: str, method: str) -> str | None:
    """The calibration file in ``model``'s presets for ``method`` (or for HACK, which ScaleKV reads too), if present."""
    for name in (method, "hack"):
        path = method_preset(model, name).get("calibration")
        if isinstance(path, str) and Path(path).is_file():
            return path
    return None


def calibrate_once(loaded: LoadedModel, folder: Path, progress: Callable[[str], None]) -> tuple[str, bool]:
    """The path of the model's own calibration, made now (``True``, after ``progress("calibrating")``) or at an
    earlier request (``False``). Call with ``loaded.lock`` held: it samples with the pipeline.
    """
    made = loaded.derived.get(DERIVED_KEY)
    if made is not None and Path(made).is_file():
        return made, False
    progress("calibrating")
    import mmcache
    from mmcache.pipelines.var.captions import calibration_captions
    from mmcache.pipelines.var.measure import call_settings

    digest = hashlib.sha256(loaded.name.encode()).hexdigest()[:12]
    path = folder / f"hack-{digest}.json"
    mmcache.calibrate(loaded.pipe, method="hack", prompts=calibration_captions(CALIBRATION_CAPTIONS), seeds=[0],
                      progress=False, **call_settings(loaded.name)).save(path)
    loaded.derived[DERIVED_KEY] = str(path)
    return str(path), True


def with_calibration(config: MethodConfig, loaded: LoadedModel, folder: Path,
                     progress: Callable[[str], None]) -> tuple[MethodConfig, str | None]:
    """``config`` with its calibration filled in where empty, and a sentence saying which file it uses (``None``
    for a method without one). Call with ``loaded.lock`` held."""
    if not takes_calibration(config):
        return config, None
    shipped = shipped_calibration(loaded.name, config.method)
    given = getattr(config, "calibration")
    if given is not None:
        same = shipped is not None and Path(given).resolve() == Path(shipped).resolve()
        origin = f"the one shipped with {loaded.name}" if same else "the file given"
        return config, f"Calibration: {origin} (`{Path(given).name}`)."
    if shipped is not None:
        return (dataclasses.replace(config, calibration=shipped),
                f"Calibration: none given, so the one shipped with {loaded.name} (`{Path(shipped).name}`).")
    path, now = calibrate_once(loaded, folder, progress)
    when = "for this request" if now else "at an earlier request"
    return (dataclasses.replace(config, calibration=path),
            f"Calibration: none given and {loaded.name} ships none, so its heads were classified {when} on "
            f"{CALIBRATION_CAPTIONS} training captions (`mmcache.calibrate(method=\"hack\")`, `{Path(path).name}`); "
            "the file is reused while the model stays loaded.")
