"""Checks of command-line input that need the machine or the file system, made before any model loads.

Each raises ``InputError`` (exit code 1) with one line that names the flag and says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MMCacheError


class InputError(MMCacheError, ValueError):
    """A command-line value this machine cannot use (a missing device, an unwritable path, ...)."""


def check_device(flag: str, device: str | None) -> None:
    """``device`` exists on this machine (``None``: the default, always fine)."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"{flag} {device!r} is not a device name; use cpu, cuda or cuda:N.") from None
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"{flag} {device}: CUDA is not available on this machine; use {flag} cpu "
                             "(or leave it out).")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise InputError(f"{flag} {device}: this machine has {count} CUDA device(s) (cuda:0 to "
                             f"cuda:{count - 1}).")
        return
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise InputError(f"{flag} mps: Apple's MPS backend is not available here; use {flag} cpu.")
        return
    module = getattr(torch, parsed.type, None)
    available = getattr(module, "is_available", None)
    if not callable(available) or not available():
        raise InputError(f"{flag} {device}: no {parsed.type} device on this machine; use {flag} cpu or cuda.")


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_output_file(flag: str, path: str, suffix: str | None = None) -> Path:
    """``path`` can be written as a file: right suffix, not a folder, parent a (creatable) writable folder."""
    target = Path(path)
    if suffix is not None and target.suffix.lower() != suffix:
        raise InputError(f"{flag} must end with {suffix}, got {path!r}.")
    if target.is_dir():
        raise InputError(f"{flag} {path!r} is a folder; give a file name ending with {suffix or 'a suffix'}.")
    check_output_folder(flag, str(target.parent), what=f"the folder of {flag} {path!r}")
    return target


def check_output_folder(flag: str, path: str, what: str | None = None) -> Path:
    """``path`` is, or can be created as, a folder this process may write to."""
    folder = Path(path)
    what = what or f"{flag} {path!r}"
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise InputError(f"{what} cannot be created: {str(existing)!r} is a file, not a folder; choose another "
                         f"{flag}.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{what} is not writable (no permission in {str(existing)!r}); choose another {flag}.")
    return folder
