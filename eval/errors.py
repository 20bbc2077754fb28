"""The error `mmcache eval` raises for bad input: one line saying what is wrong and what to do."""

from __future__ import annotations

from mmcache.errors import MMCacheError


class EvalError(MMCacheError, ValueError):
    """Bad evaluation input: an unknown method, a missing prompt file, an unusable output folder, ..."""
