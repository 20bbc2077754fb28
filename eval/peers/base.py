"""What every peer (a cache method that mmcache does not implement) provides to the evaluation."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, ContextManager, Protocol

# ``accelerator(pipe)`` → a context manager that turns the peer on for one generation (see
# ``mmcache.pipelines.generation.run_generation``).
Accelerator = Callable[[Any], ContextManager[Any]]


@dataclasses.dataclass
class PeerRuntime:
    """What a peer may need besides its parameters when it is prepared for a run.

    ``calibration_run(accelerator)`` runs one untimed generation (first prompt, first seed) with the
    given accelerator; peers that calibrate from a full run (diffusers' MagCache) use it.
    ``calibration_dir`` is where they keep what they computed, so reruns and other processes reuse it.
    """

    model: str
    steps: int
    calibration_dir: Path
    calibration_run: Callable[[Accelerator], None]
    may_compute: bool = True


class Peer(Protocol):
    """A peer method, addressed on the command line as ``name:key=value,...``."""

    name: str
    summary: str

    def unavailable_reason(self) -> str | None:
        """Why it cannot run here (e.g. its package is not installed), or None."""

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated, normalised parameters; raises ``EvalError`` naming the bad one."""

    def prepare(self, params: dict[str, Any], runtime: PeerRuntime) -> dict[str, Any]:
        """Parameters resolved for this run (e.g. calibrated ratios); called once per process."""

    def accelerator(self, params: dict[str, Any], steps: int) -> Accelerator:
        """A context-manager factory that enables the peer on a pipeline for one generation."""
