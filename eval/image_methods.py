"""The methods of ``mmcache eval --task image``: the plain pipeline, then scale-KV methods parsed from ``--methods``.

Specs use the video task's grammar (``hack:budget=0.3,scaletopk:budget=0.3``); the methods are the
registered ones whose role is ``scale_kv`` (a newly added scale-KV method works here unchanged).
``plain`` (the pipeline's own KV cache) always runs first. HACK and ScaleKV read a HACK calibration
file: a spec's ``calibration=FILE`` must exist and be one; without it (and below budget 1) the run uses
the file shipped with the model, or calibrates once on training captions.
"""

from __future__ import annotations

from typing import Any

from .calibrated_method import check_calibration_file
from .errors import EvalError
from .method_spec import parse_spec
from .methods import EvalMethod, resolve_methods
from .plain_task_specs import PLAIN_METHOD, parse_task_spec
from .var_images import CALIBRATED

WITHOUT_CALIBRATION = "the run uses the model's shipped file or calibrates on training captions"


def _check_calibration(spec: str, name: str, params: dict[str, Any]) -> None:
    if name not in CALIBRATED or "calibration" not in params:
        return
    if not isinstance(params["calibration"], str):
        raise EvalError(f"{spec!r}: calibration= takes a HACK calibration file (`mmcache calibrate --method hack`); "
                        f"leave it out and {WITHOUT_CALIBRATION}.")
    check_calibration_file(spec, params["calibration"], "hack", WITHOUT_CALIBRATION)


def parse_image_spec(spec: str) -> EvalMethod | None:
    """One scale-KV method spec, checked; ``None`` for ``plain`` (which runs anyway)."""
    return parse_task_spec(spec, "image", "scale-KV methods", "plain pipeline", _check_calibration)


def needs_calibration(method: EvalMethod) -> bool:
    """A HACK or ScaleKV spec the run supplies a calibration to: none given, and a budget that drops tokens."""
    if method.name not in CALIBRATED or "calibration" in parse_spec(method.spec)[1]:
        return False
    return method.params["budget"] < 1 or method.params.get("contextual_budget") is not None


def resolve_image_methods(texts: list[str]) -> list[EvalMethod]:
    """``plain``, then each scale-KV method of ``texts`` (comma-separated specs), in order; each checked."""
    return resolve_methods(texts, parse_one=parse_image_spec, first=PLAIN_METHOD)
