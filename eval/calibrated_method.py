"""A method of a KV task run (``--task vqa``, ``--task image``) with the calibration file the run chose for it.

A spec's own ``calibration=FILE``
is checked before the model loads (it exists and is a calibration file of the method's kind); where the
run supplies the file (one it made in ``OUT/calibration``, or one shipped with the model), the method's
fingerprint covers that file's content, so a record made with another calibration is made again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path
from typing import Any

from mmcache.errors import ConfigError
from mmcache.methods.base import MethodConfig

from .errors import EvalError
from .methods import EvalMethod


def check_calibration_file(spec: str, path: str, method: str, otherwise: str) -> None:
    """``path`` exists and is a calibration file of ``method`` (``prefixkv`` or ``hack``); ``otherwise`` ends the
    error with what leaving ``calibration=`` out does."""
    from mmcache.calibration.hack_file import HACKCalibration
    from mmcache.calibration.prefixkv_file import PrefixKVCalibration

    if not Path(path).is_file():
        raise EvalError(f"{spec!r}: the calibration file {path!r} does not exist; make one with `mmcache calibrate "
                        f"--method {method}`, or leave calibration= out and {otherwise}.")
    try:
        {"prefixkv": PrefixKVCalibration, "hack": HACKCalibration}[method].load(path)
    except ConfigError as error:
        raise EvalError(f"{spec!r}: {error}") from None


@dataclasses.dataclass(frozen=True)
class CalibratedMethod:
    """A method of the run; ``calibration``: the file the run supplies it with (``None``: its spec's own, or none)."""

    method: EvalMethod
    calibration: Path | None = None

    @property
    def label(self) -> str:
        return self.method.label

    @property
    def spec(self) -> str:
        return self.method.spec

    @property
    def config(self) -> MethodConfig | None:
        """The config to enable (``None``: the plain model), with the run's calibration where it supplies one."""
        if self.calibration is None or self.method.config is None:
            return self.method.config
        return dataclasses.replace(self.method.config, calibration=str(self.calibration))

    @functools.cached_property
    def fingerprint(self) -> str:
        """Changes when the outputs could: the parameters, files they name, and the content of the run's calibration."""
        if self.calibration is None:
            return self.method.fingerprint
        digest = hashlib.sha256(self.calibration.read_bytes()).hexdigest()
        return hashlib.sha256(f"{self.method.fingerprint}:{digest}".encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        described = self.method.describe()
        return {**described, "calibration": self.calibration.name} if self.calibration is not None else described
