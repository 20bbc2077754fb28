"""``mmcache <command>``: dispatches to the subcommands, each defined in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn, Sequence

from ..errors import MMCacheError

# Errors that carry a message meant for the user (bad input, a missing file or model): one line, exit 1.
USER_ERRORS = (MMCacheError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, ValueError)

# command → (module holding `add_arguments(parser)` and `run(args) -> int`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("mmcache.cli.generate", "generate a video (optionally side by side with the uncached baseline)"),
    "ask": ("mmcache.cli.ask", "ask a video-QA model (toy-vlm) about a clip, optionally with a KV/token method"),
    "calibrate": ("mmcache.cli.calibrate", "calibrate a method offline (ERTACache on a diffusion pipeline, PrefixKV on "
                                           "a vision-language model, HACK on a next-scale-prediction model)"),
    "eval": ("mmcache.eval.cli", "evaluate methods against the baseline and peers (speed, fidelity, VBench; "
                                 "--task vqa: accuracy and KV memory of video-QA models; --task image: fidelity and "
                                 "KV memory of next-scale-prediction image models)"),
    "demo": ("mmcache.demos.cli", "launch the Gradio demo: baseline vs accelerated side by side"),
    "models": ("mmcache.cli.models", "list the models and methods mmcache knows"),
}


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (and exit code 2), without the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message.rstrip('.')} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="mmcache", description="Training-free caching for multimodal generation.")
    parser.add_argument("--version", action="version", version=f"mmcache {__import__('mmcache').__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue  # a subcommand whose module is not installed in this build
        sub = commands.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def _quiet_library_logs() -> None:
    """Keep third-party import-time notices (e.g. optional torchvision) out of the command's output."""
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
    except ImportError:
        pass


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mmcache <command>``. Exit codes: 0 done, 1 bad input or a failure it names, 2 usage error,
    130 interrupted. Bad input is reported in one line, never as a traceback."""
    _quiet_library_logs()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0) if not isinstance(stop.code, str) else 2
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except USER_ERRORS as error:
        print(f"mmcache {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"mmcache {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
