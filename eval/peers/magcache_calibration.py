"""Catching the ratios diffusers' MagCache reports at the end of a calibration run.

In calibration mode diffusers prints the ratios and logs ``MagCache Calibration Results: [...]``
(once per CFG branch) on the ``diffusers.hooks.mag_cache`` logger; this collects those lists and
keeps the print out of the evaluation's output.
"""

from __future__ import annotations

import ast
import contextlib
import io
import logging
from typing import Iterator

LOGGER_NAME = "diffusers.hooks.mag_cache"
MESSAGE_PREFIX = "MagCache Calibration Results:"


class _RatioCollector(logging.Handler):
    def __init__(self, into: list[list[float]]) -> None:
        super().__init__(level=logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(MESSAGE_PREFIX):
            self.into.append([float(x) for x in ast.literal_eval(message[len(MESSAGE_PREFIX):].strip())])


@contextlib.contextmanager
def captured_calibration_ratios() -> Iterator[list[list[float]]]:
    """Yield a list that receives one list of ratios per calibrated CFG branch."""
    logger = logging.getLogger(LOGGER_NAME)
    ratios: list[list[float]] = []
    handler = _RatioCollector(ratios)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield ratios
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
