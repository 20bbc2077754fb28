"""`mmcache demo` launches the app on the requested local address and keeps serving until stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from mmcache.cli.main import build_parser


def test_demo_subcommand_takes_model_host_and_port():
    args = build_parser().parse_args(["demo", "--model", "tiny:wan2.1-t2v", "--host", "127.0.0.1", "--port", "7999"])
    assert (args.model, args.host, args.port) == ("tiny:wan2.1-t2v", "127.0.0.1", 7999)


def test_mmcache_demo_serves_the_page_offline_until_interrupted():
    pytest.importorskip("gradio")
    from mmcache.demos.screenshot import free_port

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "mmcache", "demo", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
                break
            except OSError:
                assert process.poll() is None, f"mmcache demo exited: {process.stdout.read()}"
                assert time.monotonic() < deadline, "mmcache demo did not start serving in 120 s"
                time.sleep(0.5)
        assert "mmcache demo" in page
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
