"""Config fields assigned after creation (``cfg.threshold = "abc"``): each must be refused in one line.

Rows: ``pytest.param(make_config, field, value, error type, message, id=...)``, where ``make_config()``
returns a fresh config.
"""

from __future__ import annotations

# Add config-assignment cases here.
CONFIG_ASSIGNMENT_CASES: list = []
