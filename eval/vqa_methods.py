"""The methods of ``mmcache eval --task vqa``: the plain model, then KV methods parsed from ``--methods``.

Specs use the video task's grammar (``zipvl:tau=0.9,snapkv:budget=0.25``); the methods are the
registered ones whose role is ``kv`` (a newly added KV method works here unchanged). ``plain`` (the
model without a method) always runs first. A ``prefixkv`` spec without ``calibration=`` and below
budget 1 is calibrated on clips of the training captions by the run (``calibration=null`` asks for
PrefixKV's per-prompt threshold search instead); a given calibration file must exist and be one.
"""

from __future__ import annotations

from typing import Any

from .calibrated_method import check_calibration_file
from .method_spec import parse_spec
from .methods import EvalMethod, resolve_methods
from .plain_task_specs import PLAIN_METHOD, parse_task_spec
from .task_methods import methods_of_task

PREFIXKV = "prefixkv"


def kv_method_names() -> list[str]:
    """The methods ``--task vqa`` takes: every registered KV method."""
    return methods_of_task("vqa")


def _check_calibration(spec: str, name: str, params: dict[str, Any]) -> None:
    if name == PREFIXKV and isinstance(params.get("calibration"), str):
        check_calibration_file(spec, params["calibration"], PREFIXKV, "the run calibrates on training clips")


def parse_vqa_spec(spec: str) -> EvalMethod | None:
    """One KV method spec, checked; ``None`` for ``plain`` (which runs anyway)."""
    return parse_task_spec(spec, "vqa", "KV methods", "plain model", _check_calibration)


def needs_calibration(method: EvalMethod) -> bool:
    """A PrefixKV spec the run calibrates: no ``calibration=`` given, and a budget that drops tokens."""
    return method.name == PREFIXKV and "calibration" not in parse_spec(method.spec)[1] and method.params["budget"] < 1


def resolve_vqa_methods(texts: list[str]) -> list[EvalMethod]:
    """``plain``, then each KV method of ``texts`` (comma-separated specs), in order; each checked."""
    return resolve_methods(texts, parse_one=parse_vqa_spec, first=PLAIN_METHOD)
