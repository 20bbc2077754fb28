"""``load(name_or_path)``: a ready pipeline from a bundled name, a local folder or a hub id.

Every pipeline is a diffusers one except next-scale prediction (``toy-var``, ``tiny:var`` or a folder saved
by ``VARPipeline``), which diffusers lacks: ``mmcache.pipelines.var.VARPipeline``, and video question
answering (``toy-vlm``, ``tiny:vlm`` or a folder the VLM trainer saved): a ``VideoQAPipeline``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from .call_defaults import with_call_defaults
from .saving import DEFAULTS_FILE

MODELS_DIR = Path(__file__).resolve().parent / "toy" / "models"
VIDEO_BUNDLED = ("toy-t2v", "toy-df", "toy-ar")  # diffusers pipelines, trained by mmcache.pipelines.toy.train
BUNDLED = (*VIDEO_BUNDLED, "toy-var")  # toy-var: a VARPipeline, trained by mmcache.pipelines.var.train
BUNDLED_VLMS = ("toy-vlm",)  # video-QA models: ``load`` gives a ``VideoQAPipeline``, ``mmcache ask`` uses them
TINY_PREFIX = "tiny:"
TINY_VAR = "var"  # tiny:var, the random VARPipeline (not a diffusers family)
TINY_VLM = TINY_PREFIX + "vlm"
VLM_FILE = "processor_config.json"  # beside config.json in a saved video-QA model
METHOD_PRESETS = "method_presets"  # key of the defaults file: method name -> settings tuned for the model
# Arguments of ``tiny_call_kwargs`` that belong to one call, not to the model's stored settings.
TINY_PER_CALL = ("prompt", "negative_prompt", "output_type")
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class ModelNotFoundError(FileNotFoundError):
    """The requested model is neither bundled, nor a local folder, nor reachable on the hub."""


def bundled_path(name: str) -> Path:
    """Folder of a bundled reference model (it may not exist in a checkout without weights)."""
    return MODELS_DIR / name


def pipeline_folder(name_or_path: str | Path) -> Path:
    """The saved pipeline folder of a bundled model name or a local path (``model_index.json`` inside)."""
    name = str(name_or_path)
    folder = bundled_path(name) if name in BUNDLED and bundled_path(name).is_dir() else Path(name)
    if not (folder / "model_index.json").is_file():
        raise ModelNotFoundError(f"{name!r} is neither a bundled model ({', '.join(BUNDLED)}) nor a saved pipeline "
                                 "folder (model_index.json inside); pass one of those.")
    return folder


def pipeline_folder_or_usage_error(parser: argparse.ArgumentParser, name_or_path: str | Path) -> Path:
    """``pipeline_folder`` for a command line: an unknown model is one usage error (exit 2), not a traceback."""
    try:
        return pipeline_folder(name_or_path)
    except ModelNotFoundError as error:
        parser.error(str(error))


def is_vlm_folder(folder: str | Path) -> bool:
    """``folder`` holds a saved video-QA model (``config.json`` and ``processor_config.json``)."""
    return (Path(folder) / "config.json").is_file() and (Path(folder) / VLM_FILE).is_file()


def is_vision_language(name_or_path: str) -> bool:
    """``name_or_path`` names a video-QA model (bundled, ``tiny:vlm`` or a saved folder); nothing is loaded."""
    return name_or_path in BUNDLED_VLMS or name_or_path == TINY_VLM or is_vlm_folder(name_or_path)


def is_next_scale(name_or_path: str) -> bool:
    """``name_or_path`` names a next-scale-prediction image model (``toy-var``, ``tiny:var`` or a saved
    ``VARPipeline`` folder); nothing is loaded."""
    from .var.pipeline import is_var_folder

    if name_or_path in ("toy-var", TINY_PREFIX + TINY_VAR):
        return True
    return is_var_folder(name_or_path)


def var_conditioning(name_or_path: str) -> tuple[list[str] | None, int]:
    """``(caption words or None, class count)`` of the next-scale-prediction model ``name_or_path`` names
    (``tiny:var``, or a saved ``VARPipeline`` folder, bundled or local), read without loading it."""
    from .var.captions import WORDS
    from .var.pipeline import saved_conditioning

    if name_or_path == TINY_PREFIX + TINY_VAR:
        return list(WORDS), 0
    return saved_conditioning(pipeline_folder(name_or_path))


def available_vlms() -> list[str]:
    """Video-QA model names ``load`` accepts without a path: bundled ones present, and ``tiny:vlm``."""
    return [name for name in BUNDLED_VLMS if is_vlm_folder(bundled_path(name))] + [TINY_VLM]


def available_var_models() -> list[str]:
    """Next-scale-prediction (VAR) image model names ``load`` accepts without a path: ``toy-var`` when its weights
    are present, and ``tiny:var``."""
    var_bundled = [name for name in BUNDLED if name not in VIDEO_BUNDLED]
    present = [name for name in var_bundled if (bundled_path(name) / "model_index.json").is_file()]
    return present + [TINY_PREFIX + TINY_VAR]


def available_models() -> list[str]:
    """Generator names ``load`` accepts without a path: bundled reference models present, and tiny random ones
    (video-QA models: ``available_vlms``)."""
    from .tiny import TINY_BUILDERS

    present = [name for name in BUNDLED if (bundled_path(name) / "model_index.json").is_file()]
    return present + [TINY_PREFIX + name for name in TINY_BUILDERS]


def default_model() -> str:
    """``toy-t2v`` when its weights are present, otherwise the tiny random Wan pipeline."""
    return "toy-t2v" if (bundled_path("toy-t2v") / "model_index.json").is_file() else TINY_PREFIX + "wan2.1-t2v"


def _resolve_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype not in names:
        raise ValueError(f"Unknown dtype {dtype!r}; use one of {sorted(names)}.")
    return names[dtype]


def _from_folder(path: Path, dtype: torch.dtype | None) -> Any:
    from diffusers import DiffusionPipeline

    from .var.pipeline import VARPipeline, is_var_folder

    if is_var_folder(path):
        return VARPipeline.from_pretrained(path, torch_dtype=dtype)
    kwargs = {"torch_dtype": dtype} if dtype is not None else {}
    return DiffusionPipeline.from_pretrained(str(path), local_files_only=True, **kwargs)


def _from_hub(repo_id: str, dtype: torch.dtype | None) -> Any:
    from diffusers import DiffusionPipeline

    kwargs = {"torch_dtype": dtype} if dtype is not None else {}
    try:
        return DiffusionPipeline.from_pretrained(repo_id, **kwargs)
    except (OSError, ValueError) as error:
        raise ModelNotFoundError(
            f"Could not load {repo_id!r}: it is not a bundled model ({', '.join(BUNDLED)}), not a local folder, and "
            "its weights are not reachable from this machine (no network or not in the Hugging Face cache). "
            f"Download it where you have network (e.g. `huggingface-cli download {repo_id}`) and pass the local "
            f"folder instead. Original error: {error}"
        ) from error


def model_source(name_or_path: str) -> str:
    """Where ``load`` would take ``name_or_path`` from: ``bundled``, ``tiny``, ``folder``, ``hub``, or ``vlm`` for a
    video-QA model.

    Raises ``ModelNotFoundError`` (one line saying what to pass) for anything ``load`` cannot find;
    nothing is loaded, and a hub id is checked only for its form.
    """
    from .tiny import TINY_BUILDERS

    if name_or_path in BUNDLED_VLMS and not is_vlm_folder(bundled_path(name_or_path)):
        raise ModelNotFoundError(
            f"The bundled model {name_or_path!r} has no weights in {bundled_path(name_or_path)}. Train it with "
            "`python -m mmcache.pipelines.vlm.train` and install it (see docs/MODELS.md), or use tiny:vlm."
        )
    if is_vision_language(name_or_path):
        return "vlm"
    if name_or_path in BUNDLED:
        folder = bundled_path(name_or_path)
        if not (folder / "model_index.json").is_file():
            trainer = "toy.train" if name_or_path in VIDEO_BUNDLED else "var.train recipe"
            raise ModelNotFoundError(
                f"The bundled model {name_or_path!r} has no weights in {folder}. Train it with "
                f"`python -m mmcache.pipelines.{trainer}` (see docs/MODELS.md) or reinstall mmcache."
            )
        return "bundled"
    if name_or_path.startswith(TINY_PREFIX):
        family = name_or_path[len(TINY_PREFIX):]
        if family not in TINY_BUILDERS and family != TINY_VAR:
            raise ModelNotFoundError(f"No tiny pipeline {family!r}; choose one of {sorted([*TINY_BUILDERS, TINY_VAR])}.")
        return "tiny"
    if os.path.isdir(name_or_path):
        if not (Path(name_or_path) / "model_index.json").is_file():
            raise ModelNotFoundError(f"{name_or_path} is a folder but holds no model_index.json (not a diffusers "
                                     f"pipeline saved with save_pretrained) nor config.json and {VLM_FILE} (not a "
                                     "saved video-QA model).")
        return "folder"
    if HUB_ID.fullmatch(name_or_path) and not os.path.exists(name_or_path):
        return "hub"
    raise ModelNotFoundError(
        f"{name_or_path!r} is not a model name, an existing folder or a hub id (owner/name). "
        f"Available names: {available_models()}."
    )


def load(name_or_path: str, device: str | torch.device | None = None,
         dtype: torch.dtype | str | None = None) -> Any:
    """A ready pipeline for a bundled name (``"toy-t2v"``, ``"toy-df"``, ``"toy-ar"``, ``"toy-var"``),
    ``"tiny:<family>"`` (``"tiny:var"`` too), a folder or a hub id; for ``"toy-vlm"``, ``"tiny:vlm"`` or a saved
    video-QA folder, a ``VideoQAPipeline`` (``pipe(frames, question) -> str``).

    ``device`` defaults to CUDA when available, else CPU; ``dtype`` to the checkpoint's own. A
    pipeline loaded from a folder with ``mmcache_defaults.json`` (every bundled model) fills the
    call arguments it is not given from that file, so ``load("toy-t2v")(prompt)`` generates at the
    model's trained size.
    """
    from .tiny import build_tiny_pipeline

    torch_dtype = _resolve_dtype(dtype)
    source = model_source(name_or_path)
    if source == "vlm":
        return _load_vlm(name_or_path, device, torch_dtype)
    folder: Path | None = None  # where the pipeline was saved, whose defaults file a bare call uses
    if source == "bundled":
        folder = bundled_path(name_or_path)
        pipe = _from_folder(folder, torch_dtype)
    elif source == "tiny" and name_or_path == TINY_PREFIX + TINY_VAR:
        from .var import build_tiny_var

        pipe = build_tiny_var()
        if torch_dtype is not None:
            pipe.to(dtype=torch_dtype)
    elif source == "tiny":
        pipe = build_tiny_pipeline(name_or_path[len(TINY_PREFIX):])
        if torch_dtype is not None:
            pipe.to(dtype=torch_dtype)
    elif source == "folder":
        folder = Path(name_or_path)
        pipe = _from_folder(folder, torch_dtype)
    else:
        pipe = _from_hub(name_or_path, torch_dtype)
    pipe.to(torch.device(device) if device is not None else default_device())
    pipe.mmcache_model_name = name_or_path
    if folder is not None:
        with_call_defaults(pipe, read_defaults(folder))
    return pipe


def vlm_folder(name_or_path: str) -> Path | None:
    """Where a video-QA model is saved (bundled or a folder); ``None`` for ``tiny:vlm``, which is built in memory."""
    if name_or_path == TINY_VLM:
        return None
    return bundled_path(name_or_path) if name_or_path in BUNDLED_VLMS else Path(name_or_path)


def load_vlm_processor(name_or_path: str) -> Any:
    """The processor of a video-QA model without its weights: clip length, frame size and vocabulary."""
    from .vlm.configs import TINY_VLM_SPEC, build_processor
    from .vlm.processor import ToyVLMProcessor

    folder = vlm_folder(name_or_path)
    if folder is None:
        return build_processor(TINY_VLM_SPEC)
    return ToyVLMProcessor.from_pretrained(str(folder), local_files_only=True)


def _load_vlm(name_or_path: str, device: str | torch.device | None, dtype: torch.dtype | None) -> Any:
    """A ``VideoQAPipeline``: random weights for ``tiny:vlm``, else the saved folder's."""
    from .vlm.configs import TINY_VLM_SPEC, build_pipeline
    from .vlm.pipeline import VideoQAPipeline

    folder = vlm_folder(name_or_path)
    if folder is None:
        pipe = build_pipeline(TINY_VLM_SPEC)
    else:
        pipe = VideoQAPipeline.from_pretrained(folder, dtype=dtype)
    pipe.to(torch.device(device) if device is not None else default_device(), dtype)
    pipe.mmcache_model_name = name_or_path
    return pipe


def size_rules(name_or_path: str) -> Any:
    """The output sizes a bundled model or a local folder supports, from its configs (``None``: unknown
    before loading, e.g. a hub id or a tiny pipeline)."""
    from .supported_sizes import rules_for_folder

    source = model_source(name_or_path)
    if source == "bundled":
        return rules_for_folder(name_or_path, bundled_path(name_or_path))
    if source == "folder":
        return rules_for_folder(name_or_path, Path(name_or_path))
    return None


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def generation_defaults(name_or_path: str) -> dict[str, Any]:
    """Recommended generation settings stored beside a model (``mmcache_defaults.json``), if any."""
    from .tiny import TINY_BUILDERS, tiny_call_kwargs

    if name_or_path.startswith(TINY_PREFIX) and name_or_path[len(TINY_PREFIX):] in TINY_BUILDERS:
        kwargs = tiny_call_kwargs(name_or_path[len(TINY_PREFIX):])
        return {key: value for key, value in kwargs.items() if key not in TINY_PER_CALL}
    return read_defaults(bundled_path(name_or_path) if name_or_path in BUNDLED else Path(name_or_path))


def _defaults_file(folder: Path) -> dict[str, Any]:
    file = Path(folder) / DEFAULTS_FILE
    if not file.is_file():
        return {}
    try:
        defaults = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{file} is not readable JSON ({error}); fix or delete it.") from None
    if not isinstance(defaults, dict) or not isinstance(defaults.get("extra", {}), dict):
        raise ValueError(f"{file} must hold a JSON object of generation settings (with \"extra\", if present, an "
                         "object too); fix or delete it.")
    return defaults


def read_defaults(folder: Path) -> dict[str, Any]:
    """The generation settings in a pipeline folder's ``mmcache_defaults.json``, or ``{}`` when it has none."""
    return {key: value for key, value in _defaults_file(folder).items() if key != METHOD_PRESETS}


def method_preset(name_or_path: str, method: str) -> dict[str, Any]:
    """The settings of ``method`` tuned for this model (``method_presets`` in its defaults file), or ``{}``."""
    folder = bundled_path(name_or_path) if name_or_path in BUNDLED + BUNDLED_VLMS else Path(name_or_path)
    preset = dict(_defaults_file(folder).get(METHOD_PRESETS, {}).get(method, {})) if folder.is_dir() else {}
    if isinstance(preset.get("calibration"), str) and (folder / preset["calibration"]).is_file():
        preset["calibration"] = str(folder / preset["calibration"])  # a file shipped beside the weights
    return preset
