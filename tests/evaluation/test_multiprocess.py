"""`accelerate launch` with 2 processes (gloo, CPU) gives the same results as one process.

Both runs are subprocesses: the single one through `python -m mmcache.eval`, the other through
`accelerate launch --multi_gpu --num_processes 2 -m mmcache.eval --device cpu` (on CPU, accelerate
starts several processes only in its multi-process launcher; `--device cpu` makes them use gloo).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from .helpers import model_args

METHODS = "easycache:threshold=0.5,warmup_steps=2,diffusers-magcache:threshold=0.5"
ARGS = [*model_args(), "--methods", METHODS, "--limit-prompts", "2", "--seeds", "3", "--vbench", "off",
        "--quiet", "--device", "cpu", "--no-warmup-run"]
COMPARED = ("status", "frames_sha256", "denoiser_calls", "denoiser_computed", "timeline", "metrics")


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "",
            "TOKENIZERS_PARALLELISM": "false"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command: list[str]) -> None:
    done = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def items(out: Path) -> dict[tuple[str, str], dict]:
    rows = json.loads((out / "results.json").read_text())["items"]
    return {(row["method"], row["item"]["key"]): row for row in rows}


def test_two_processes_match_one(tmp_path):
    single, double = tmp_path / "one", tmp_path / "two"
    run([sys.executable, "-m", "mmcache.eval", *ARGS, "--out", str(single)])
    run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "--main_process_port", str(free_port()), "-m", "mmcache.eval", *ARGS, "--out", str(double)])
    one, two = items(single), items(double)
    assert one.keys() == two.keys() and len(one) == 2 * 3
    for key, row in one.items():
        assert {name: row.get(name) for name in COMPARED} == {name: two[key].get(name) for name in COMPARED}, key
    assert {row["process"]["index"] for row in two.values()} == {0, 1}
    assert json.loads((double / "results.json").read_text())["run"]["processes"] == 2
    assert (double / "report.md").is_file() and (double / "pareto.png").is_file()
