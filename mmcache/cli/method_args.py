"""Command-line flags that choose a cache method and its knobs, shared by the subcommands."""

from __future__ import annotations

import argparse
import json

from ..methods.base import MethodConfig, registered_methods
from ..methods.spec import parse_method_spec
from ..errors import ConfigError
from ..validation.arg_types import finite_float, int_in_range, kept_fraction, non_negative_int

NO_METHOD = "none"
# flag destination → config field name (only applied when the chosen method has that field)
KNOB_FLAGS = {"threshold": "threshold", "window_threshold": "window_threshold", "warmup_steps": "warmup_steps",
              "final_steps": "final_steps", "calibration": "calibration", "kv_budget": "kv_budget", "budget": "budget"}


def add_method_arguments(parser: argparse.ArgumentParser, default: str | None = "easycache",
                         default_help: str | None = None) -> None:
    """The method flags; ``default`` ``None`` leaves the choice to the command (``default_help`` says what it does)."""
    group = parser.add_argument_group("cache method")
    group.add_argument("--method", default=default,
                       help=f"cache method: {', '.join(sorted(registered_methods()))} or '{NO_METHOD}' "
                            f"(default: {default_help or default})")
    group.add_argument("--preset", help="start from a model family's preset of the method, e.g. wan, hunyuan-video")
    group.add_argument("--threshold", type=finite_float,
                       help="reuse threshold (EasyCache: tau; FlowCache: per chunk, 0 never; larger = faster)")
    group.add_argument("--window-threshold", type=finite_float,
                       help="FlowCache: EasyCache's tau for one reuse decision per iteration of the whole window, "
                            "composed with the restructured forward (toy-ar's preset: 0.05)")
    group.add_argument("--warmup-steps", type=non_negative_int, help="first steps always computed (EasyCache: R)")
    group.add_argument("--final-steps", type=non_negative_int, help="last steps always computed")
    group.add_argument("--calibration", help="calibration file of a calibrated method (ERTACache, PrefixKV, HACK), "
                                             "from `mmcache calibrate`")
    group.add_argument("--kv-budget", type=int_in_range(1), help="tokens per head and layer a KV method keeps "
                                                                 "(FlowCache: of the finished chunks)")
    group.add_argument("--budget", type=kept_fraction,
                       help="share of the KV cache a KV method keeps (PrefixKV, SnapKV, HACK, ...; 1.0 keeps all)")
    group.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="any other method parameter (repeatable)")


def configs_from_args(args: argparse.Namespace, model_preset: dict | None = None) -> list[MethodConfig]:
    """The method configs the flags describe (empty for ``--method none``).

    Without ``--preset``, the settings tuned for the model (``model_preset``, from its defaults
    file) are the starting point; flags override them.
    """
    if args.method == NO_METHOD:
        given = [flag for flag in KNOB_FLAGS if getattr(args, flag) is not None] + (["param"] if args.param else [])
        if given or args.preset:
            raise ConfigError(f"--method none takes no method parameters (got {given or ['preset']}).")
        return []
    if args.method not in registered_methods():
        raise ConfigError(f"Unknown --method {args.method!r}; choose from {sorted(registered_methods())} or "
                          f"'{NO_METHOD}'.")
    given = {param.partition("=")[0].strip() for param in args.param}
    parts = [f"preset={args.preset}"] if args.preset else [
        f"{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}"
        for key, value in (model_preset or {}).items() if getattr(args, key, None) is None and key not in given]
    for flag, field in KNOB_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            parts.append(f"{field}={value}")
    parts.extend(args.param)
    return [parse_method_spec(f"{args.method}:{','.join(parts)}")]
