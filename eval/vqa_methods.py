"""The methods of ``mmcache eval --task vqa``: the plain model, then KV methods parsed from ``--methods``.

Specs use the video task's grammar (``zipvl:tau=0.9,snapkv:budget=0.25``); the methods are the
registered ones whose role is ``kv`` (a newly added KV method works here unchanged). ``plain`` (the
model without a method) always runs first. A ``prefixkv`` spec without ``calibration=`` and below
budget 1 is calibrated on clips of the training captions by the run (``calibration=null`` asks for
PrefixKV's per-prompt threshold search instead); a given calibration file must exist and be one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path
from typing import Any

from mmcache.errors import ConfigError
from mmcache.methods.base import MethodConfig, registered_methods
from mmcache.methods.spec import parse_method_spec

from .errors import EvalError
from .labels import method_label
from .method_spec import parse_spec
from .methods import BASELINE, EvalMethod, resolve_methods
from .peers import PEERS

PLAIN = "plain"
PLAIN_METHOD = EvalMethod(PLAIN, PLAIN, "baseline", PLAIN, {})
PREFIXKV = "prefixkv"


def kv_method_names() -> list[str]:
    """The methods ``--task vqa`` takes: every registered KV method."""
    return sorted(name for name, config in registered_methods().items() if config.role == "kv")


def _refuse(name: str, spec: str) -> EvalError:
    known = f"--task vqa takes {PLAIN} (always run) and the KV methods {', '.join(kv_method_names())}"
    if name == BASELINE:
        return EvalError(f"{spec!r}: the plain model always runs under --task vqa (as {PLAIN!r}); leave it out.")
    if name in registered_methods() or name in PEERS:
        return EvalError(f"{spec!r}: {name} is a video-generation method; {known}, or use --task video.")
    return EvalError(f"Unknown method {name!r} in {spec!r}; {known}.")


def _check_calibration_file(spec: str, path: str) -> None:
    from mmcache.calibration.prefixkv_file import PrefixKVCalibration

    if not Path(path).is_file():
        raise EvalError(f"{spec!r}: the calibration file {path!r} does not exist; make one with `mmcache calibrate "
                        "--method prefixkv`, or leave calibration= out and the run calibrates on training clips.")
    try:
        PrefixKVCalibration.load(path)
    except ConfigError as error:
        raise EvalError(f"{spec!r}: {error}") from None


def parse_vqa_spec(spec: str) -> EvalMethod | None:
    """One KV method spec, checked; ``None`` for ``plain`` (which runs anyway)."""
    name, params = parse_spec(spec)
    if name == PLAIN:
        if params:
            raise EvalError(f"{spec!r}: the plain model takes no parameters.")
        return None
    if name not in kv_method_names():
        raise _refuse(name, spec)
    try:
        config = parse_method_spec(spec)
    except ConfigError as error:
        raise EvalError(f"{spec!r}: {error}") from error
    if name == PREFIXKV and isinstance(params.get("calibration"), str):
        _check_calibration_file(spec, params["calibration"])
    full = {key: value for key, value in config.to_dict().items() if key != "method"}
    return EvalMethod(method_label(name, params), name, "mmcache", spec.strip(), full, config)


@dataclasses.dataclass(frozen=True)
class VqaMethod:
    """A method of the run; ``calibration``: the PrefixKV calibration the run made for it (in OUT/calibration)."""

    method: EvalMethod
    calibration: Path | None = None

    @property
    def label(self) -> str:
        return self.method.label

    @property
    def config(self) -> MethodConfig | None:
        """The config to enable (``None``: the plain model), with the run's calibration where it made one."""
        if self.calibration is None or self.method.config is None:
            return self.method.config
        return dataclasses.replace(self.method.config, calibration=str(self.calibration))

    @functools.cached_property
    def fingerprint(self) -> str:
        """Changes when the answers could: the parameters, files they name, and the content of the run's calibration."""
        if self.calibration is None:
            return self.method.fingerprint
        digest = hashlib.sha256(self.calibration.read_bytes()).hexdigest()
        return hashlib.sha256(f"{self.method.fingerprint}:{digest}".encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        described = self.method.describe()
        return {**described, "calibration": self.calibration.name} if self.calibration is not None else described


def needs_calibration(method: EvalMethod) -> bool:
    """A PrefixKV spec the run calibrates: no ``calibration=`` given, and a budget that drops tokens."""
    return method.name == PREFIXKV and "calibration" not in parse_spec(method.spec)[1] and method.params["budget"] < 1


def resolve_vqa_methods(texts: list[str]) -> list[EvalMethod]:
    """``plain``, then each KV method of ``texts`` (comma-separated specs), in order; each checked."""
    return resolve_methods(texts, parse_one=parse_vqa_spec, first=PLAIN_METHOD)
