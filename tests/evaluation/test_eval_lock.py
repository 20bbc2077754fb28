"""Two evaluations into one output folder: the second is refused while the first runs, and the lock goes
with the first."""

from __future__ import annotations

import os
import threading

import pytest

import mmcache.eval.generator as generator_module
from mmcache.cli.main import main
from mmcache.eval.folder_lock import LOCK_NAME, FolderBusyError, FolderLock
from mmcache.eval.evaluation import EvalOptions, run_evaluation


def test_a_second_run_into_a_busy_folder_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    started, finish = threading.Event(), threading.Event()
    original = generator_module.run_generation

    def held_generation(*args, **kwargs):
        started.set()
        finish.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(generator_module, "run_generation", held_generation)
    options = EvalOptions(out=str(out), model="tiny:wan2.1-t2v", steps=2, limit_prompts=1, vbench=False, quiet=True,
                          warmup_run=False, method_texts=["easycache:threshold=0.5"])
    first = threading.Thread(target=run_evaluation, args=(options,))
    first.start()
    try:
        assert started.wait(60)
        argv = ["eval", "--model", "tiny:wan2.1-t2v", "--steps", "2", "--limit-prompts", "1", "--vbench", "off",
                "--out", str(out)]
        assert main(argv) == 1
        error = capsys.readouterr().err.strip().splitlines()[-1]  # after the first run's library notices
        assert error.startswith(f"mmcache eval: error: {out} is in use by process {os.getpid()} on ")
    finally:
        finish.set()
        first.join(120)
    assert not (out / LOCK_NAME).exists() and (out / "results.json").is_file()


def test_the_lock_is_released_and_can_be_taken_again(tmp_path):
    lock = FolderLock(tmp_path)
    with lock:
        assert (tmp_path / LOCK_NAME).is_file()
        with pytest.raises(FolderBusyError, match="is in use by process"):
            FolderLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    with FolderLock(tmp_path):
        pass
