"""Fixtures of the bad-input tables: a busy port, and a guard that no model is loaded."""

from __future__ import annotations

import socket
from typing import Iterator

import pytest

import mmcache.eval.generator as eval_generator
import mmcache.pipelines.loader as loader
import mmcache.pipelines.vlm_loader as vlm_loader


@pytest.fixture()
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture()
def no_model_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(loader, "load", refuse)
    monkeypatch.setattr(eval_generator, "load", refuse)
    monkeypatch.setattr(vlm_loader, "load_vlm", refuse)
