"""Launch the Gradio demo: baseline vs accelerated side by side, with the per-step cache decisions.

Serves on http://127.0.0.1:PORT (offline: analytics off, no share link). --model picks the model
selected at start (a bundled name, tiny:<family> or a local diffusers folder); the page lists the
others. Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import socket

from mmcache.validation.arg_types import DTYPES, port_int
from mmcache.validation.checks import InputError, check_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="model selected at start: a bundled name (toy-t2v), tiny:<family> or a local diffusers "
                             "folder (default: toy-t2v, or tiny:wan2.1-t2v when the bundled weights are absent)")
    parser.add_argument("--method", default="easycache", help="method selected at start (default: easycache)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 exposes the demo to your network)")
    parser.add_argument("--port", type=port_int, default=None,
                        help="port (default: the first free one from 7860)")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="default: the checkpoint's")


def check_listen_address(host: str, port: int | None) -> None:
    """``host`` is an address of this machine and ``port`` (when given) is free on it."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        raise InputError(f"--host {host!r} is not a host name or address; use 127.0.0.1 (this machine only) or "
                         "0.0.0.0 (every network interface).") from None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except PermissionError:
            raise InputError(f"--port {port}: this user may not listen on it (ports below 1024 need privileges); "
                             "choose one from 1024 up.") from None
        except OSError as error:
            if port and error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise InputError(f"--port {port} is in use on {host}; choose another port, or leave --port out to "
                                 "use the first free one from 7860.") from None
            raise InputError(f"--host {host!r} cannot be listened on here ({error.strerror or error}); use "
                             "127.0.0.1 or 0.0.0.0.") from None


def check_start_up(args: argparse.Namespace) -> str:
    """Everything the demo needs at start, checked before Gradio loads; returns the model to start with."""
    from mmcache.methods.base import registered_methods
    from mmcache.pipelines.loader import available_models, default_model, model_source

    from .validation import check_model_name

    if args.method not in registered_methods():
        raise InputError(f"--method {args.method!r} is not a cache method; choose one of "
                         f"{sorted(registered_methods())}.")
    model = args.model or default_model()
    try:
        check_model_name(model, available_models())
    except ValueError as error:
        raise InputError(f"--model: {error}") from None
    model_source(model)
    check_device("--device", args.device)
    check_listen_address(args.host, args.port)
    return model


def run(args: argparse.Namespace) -> int:
    model = check_start_up(args)
    try:
        from .app import build_app, launch
    except ModuleNotFoundError as error:
        if error.name in ("gradio", "matplotlib"):
            raise InputError(f"the demo needs {error.name}: pip install 'mmcache[demo]'") from error
        raise
    demo = build_app(model=model, device=args.device, dtype=args.dtype, method=args.method)
    try:
        url = launch(demo, host=args.host, port=args.port, block=False, quiet=True)
    except OSError as error:  # the port was taken between the check and the start
        raise InputError(f"the demo could not listen on {args.host}:{args.port or 'a port from 7860'} "
                         f"({error}); choose another --port.") from None
    print(f"mmcache demo: serving {url} (Ctrl-C stops)", flush=True)
    demo.block_thread()  # returns on Ctrl-C, after closing the server
    return 0
