"""Splitting ``--methods`` text into method specs, and a spec's parameters into values.

A spec is ``name`` or ``name:key=value,key=value``; a list of specs is written with commas too
(``easycache:threshold=0.1,easycache:threshold=0.2,diffusers-fbc``). A comma-separated piece
starts a new spec when it has no ``=`` (``diffusers-fbc``) or its first ``:`` comes before any
``=`` (``easycache:threshold=0.2``); otherwise it is one more ``key=value`` of the current spec.
Commas inside ``[...]`` belong to list values (``reuse_steps=[3,5,7]``).
"""

from __future__ import annotations

from typing import Any

from mmcache.errors import ConfigError
from mmcache.methods.spec import split_spec, split_top_level

from .errors import EvalError


def _starts_spec(piece: str) -> bool:
    colon, equals = piece.find(":"), piece.find("=")
    return equals < 0 or (0 <= colon < equals)


def split_method_list(text: str) -> list[str]:
    """``"a:x=1,y=2,b,c:z=3"`` → ``["a:x=1,y=2", "b", "c:z=3"]``."""
    specs: list[str] = []
    for piece in split_top_level(text):
        if _starts_spec(piece):
            specs.append(piece)
        elif not specs:
            raise EvalError(f"--methods starts with a parameter ({piece!r}); write name:key=value,...")
        else:
            specs[-1] = f"{specs[-1]},{piece}" if ":" in specs[-1] else f"{specs[-1]}:{piece}"
    return specs


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"diffusers-fbc:threshold=0.1"`` → ``("diffusers-fbc", {"threshold": 0.1})`` (mmcache's spec grammar)."""
    try:
        return split_spec(spec)
    except ConfigError as error:
        raise EvalError(str(error)) from None
