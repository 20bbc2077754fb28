"""Launch the Gradio demo: baseline vs accelerated side by side, with the per-step cache decisions.

Serves on http://127.0.0.1:PORT (offline: analytics off, no share link). --model picks the model
selected at start (a bundled name, tiny:<family> or a local diffusers folder); the page lists the
others. Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="model selected at start: a bundled name (toy-t2v), tiny:<family> or a local diffusers "
                             "folder (default: toy-t2v, or tiny:wan2.1-t2v when the bundled weights are absent)")
    parser.add_argument("--method", default="easycache", help="method selected at start (default: easycache)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 exposes the demo to your network)")
    parser.add_argument("--port", type=int, default=None, help="port (default: the first free one from 7860)")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: the checkpoint's)")


def run(args: argparse.Namespace) -> int:
    if args.port is not None and not 0 < args.port < 65536:
        raise ValueError(f"--port must be from 1 to 65535, got {args.port}.")
    try:
        from .app import build_app, launch
    except ModuleNotFoundError as error:
        if error.name in ("gradio", "matplotlib"):
            raise ValueError(f"the demo needs {error.name}: pip install 'mmcache[demo]'") from error
        raise
    demo = build_app(model=args.model, device=args.device, dtype=args.dtype, method=args.method)
    url = launch(demo, host=args.host, port=args.port, block=False, quiet=True)
    print(f"mmcache demo: serving {url} (Ctrl-C stops)", flush=True)
    demo.block_thread()  # returns on Ctrl-C, after closing the server
    return 0
