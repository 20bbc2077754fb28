"""Calibration files that `mmcache generate --method ertacache --calibration FILE` must refuse in one line.

Rows: ``cli(id, flags, exit code, message, setup=make_file("c.json", text))``, run like the generate
table (``generate --quiet --out {tmp}/v.mp4`` first); the file is ``{tmp}/c.json``.
"""

from __future__ import annotations

# Add calibration-file cases here (invalid JSON, wrong version, another model, NaN slopes, ...).
CALIBRATION_FILE_CASES: list = []
