"""The full VBench evaluation, run as a subprocess where the ``vbench`` package and its weights are present.

VBench runs in custom-input mode on each method's video folder, with a prompt file mapping every
video to its real prompt (``{file name: prompt}``, VBench's ``--prompt_file`` format), and loads
its checkpoints from its cache (``--load_ckpt_from_local``; ``$VBENCH_CACHE_DIR``, by default
``~/.cache/vbench``). Only dimensions whose weights are already there are run, so VBench never
downloads anything. Its exit code is always 0, so success is judged from its result file
(``results_<time>_eval_results.json``: ``{dimension: [score, per-video results]}``).
VBench itself needs a CUDA GPU.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

from mmcache.files import atomic_write_json, atomic_write_text

from .metrics.availability import AVAILABLE, Availability, unavailable
from .schemas import VBenchSummary
from .validated_files import InvalidFileError, as_dict, read_validated

# Dimensions VBench evaluates on custom prompts (README), plus temporal_flickering (no weights).
DEFAULT_DIMENSIONS = ("subject_consistency", "background_consistency", "motion_smoothness", "dynamic_degree",
                      "aesthetic_quality", "imaging_quality", "temporal_flickering")
# VBench refuses these in custom-input mode (they need its own prompt metadata).
NOT_FOR_CUSTOM_INPUT = ("object_class", "multiple_objects", "scene", "appearance_style", "color",
                        "spatial_relationship")
CUSTOM_INPUT_DIMENSIONS = DEFAULT_DIMENSIONS + ("human_action", "temporal_style", "overall_consistency")
# Files VBench loads per dimension from its cache in local mode (vbench/utils.py: init_submodules).
REQUIRED_WEIGHTS: dict[str, tuple[str, ...]] = {
    "subject_consistency": ("dino_model/facebookresearch_dino_main", "dino_model/dino_vitbase16_pretrain.pth"),
    "background_consistency": ("clip_model/ViT-B-32.pt",),
    "aesthetic_quality": ("clip_model/ViT-L-14.pt", "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth"),
    "imaging_quality": ("pyiqa_model/musiq_spaq_ckpt-358bb6af.pth",),
    "motion_smoothness": ("amt_model/amt-s.pth",),
    "dynamic_degree": ("raft_model/models/raft-things.pth",),
    "temporal_flickering": (),
    "human_action": ("umt_model/l16_ptk710_ftk710_ftk400_f16_res224.pth",),
    "temporal_style": ("ViCLIP/ViClip-InternVid-10M-FLT.pth", "ViCLIP/bpe_simple_vocab_16e6.txt.gz"),
    "overall_consistency": ("ViCLIP/ViClip-InternVid-10M-FLT.pth", "ViCLIP/bpe_simple_vocab_16e6.txt.gz"),
}
RESULT_SUFFIX = "_eval_results.json"


def vbench_cache_dir() -> Path:
    return Path(os.environ.get("VBENCH_CACHE_DIR") or Path.home() / ".cache" / "vbench")


def missing_weights(dimension: str) -> list[str]:
    return [name for name in REQUIRED_WEIGHTS[dimension] if not (vbench_cache_dir() / name).exists()]


def vbench_availability(dimensions: Sequence[str]) -> tuple[Availability, list[str], dict[str, str]]:
    """(overall availability, dimensions that can run, reason per dimension that cannot)."""
    if importlib.util.find_spec("vbench") is None:
        return unavailable("the vbench package is not installed (pip install vbench)"), [], {}
    if shutil.which("vbench") is None:
        return unavailable("the vbench command is not on PATH"), [], {}
    import torch

    if not torch.cuda.is_available():
        return unavailable("VBench needs a CUDA GPU"), [], {}
    skipped = {dimension: "weights missing from " + ", ".join(str(vbench_cache_dir() / name) for name in missing)
               for dimension in dimensions if (missing := missing_weights(dimension))}
    runnable = [dimension for dimension in dimensions if dimension not in skipped]
    if not runnable:
        return unavailable("no requested dimension has its weights in " + str(vbench_cache_dir())), [], skipped
    return AVAILABLE, runnable, skipped


def check_dimensions(dimensions: Sequence[str]) -> list[str]:
    """Validated ``--vbench-dimensions``; raises ``ValueError`` naming what is not allowed."""
    from .errors import EvalError

    for dimension in dimensions:
        if dimension in NOT_FOR_CUSTOM_INPUT:
            raise EvalError(f"VBench dimension {dimension!r} needs VBench's own prompt suite; custom-input mode "
                            f"supports {', '.join(CUSTOM_INPUT_DIMENSIONS)}.")
        if dimension not in CUSTOM_INPUT_DIMENSIONS:
            raise EvalError(f"Unknown VBench dimension {dimension!r}; choose from "
                            f"{', '.join(CUSTOM_INPUT_DIMENSIONS)}.")
    return list(dict.fromkeys(dimensions))


def _latest_result(folder: Path, since: float) -> Path | None:
    candidates = [path for path in folder.glob(f"*{RESULT_SUFFIX}") if path.stat().st_mtime >= since]
    return max(candidates, key=lambda path: path.stat().st_mtime) if candidates else None


def parse_result_file(path: Path, dimensions: Sequence[str]) -> dict[str, Any]:
    """``{dimension: score}`` from VBench's result file, and the dimensions it lacks (an unreadable file
    lacks them all, and says why under ``reason``)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return {"dimensions": {}, "missing": list(dimensions), "reason": f"{path.name} is not readable JSON: {error}"}
    entries = data.items() if isinstance(data, dict) else ()
    scores = {name: float(value[0]) for name, value in entries
              if isinstance(value, list) and value and isinstance(value[0], (int, float))
              and not isinstance(value[0], bool)}
    return {"dimensions": scores, "missing": [name for name in dimensions if name not in scores]}


def run_vbench(videos: Path, prompts: dict[str, str], output: Path, dimensions: Sequence[str],
               command: Sequence[str] = ("vbench",)) -> dict[str, Any]:
    """Run VBench on one method's videos (``prompts``: video file name → prompt); reuse a finished run."""
    names = sorted(prompts)
    digest = hashlib.sha256(json.dumps([names, list(dimensions)]).encode()).hexdigest()[:16]
    summary_path = output / "summary.json"
    if summary_path.exists():
        try:
            summary = as_dict(read_validated(summary_path, VBenchSummary))
        except InvalidFileError:
            summary = {}  # unusable: VBench runs again and the file is rewritten
        if summary.get("digest") == digest and summary.get("status") == "done":
            return summary
    output.mkdir(parents=True, exist_ok=True)
    prompt_file = output / "prompts.json"
    atomic_write_json(prompt_file, prompts)
    arguments = [*command, "evaluate", "--videos_path", str(videos.resolve()), "--dimension", " ".join(dimensions),
                 "--mode", "custom_input", "--prompt_file", str(prompt_file.resolve()),
                 "--output_path", str(output.resolve()), "--load_ckpt_from_local", "True", "--ngpus", "1"]
    started = time.time() - 1
    completed = subprocess.run(arguments, capture_output=True, text=True, check=False)
    atomic_write_text(output / "vbench.log", f"$ {' '.join(arguments)}\n{completed.stdout}\n{completed.stderr}")
    result = _latest_result(output, started)
    summary: dict[str, Any] = {"digest": digest, "videos": len(names), "command": arguments}
    if result is None:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
        summary.update(status="failed", reason=f"VBench wrote no result file (see vbench.log): {tail[0][:300]}")
    else:
        parsed = parse_result_file(result, dimensions)
        summary.update(status="done" if not parsed["missing"] else "partial", result_file=result.name, **parsed)
        if parsed["missing"] and "reason" not in parsed:
            summary["reason"] = f"no score for {parsed['missing']} (see vbench.log)"
    atomic_write_json(summary_path, summary)
    return summary
