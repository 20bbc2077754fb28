"""A metric that may be missing on this machine reports why, instead of a number."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Availability:
    available: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"available": self.available, "reason": self.reason}


AVAILABLE = Availability(True)


def unavailable(reason: str) -> Availability:
    return Availability(False, reason)
