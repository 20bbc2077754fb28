"""`mmcache` itself and `mmcache models`: unknown commands and flags."""

from __future__ import annotations

from .cases import USAGE, cli

TOP_LEVEL_CASES = [
    cli("command-unknown", "generat", USAGE, "argument COMMAND: invalid choice: 'generat'"),
    cli("flag-unknown", "--fast", USAGE, "unrecognized arguments: --fast"),
    cli("models-takes-no-flags", "models --all", USAGE, "unrecognized arguments: --all"),
    cli("eval-positional", "eval extra", USAGE, "unrecognized arguments: extra"),
]
