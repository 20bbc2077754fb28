"""Which `mmcache eval` flags belong to which ``--task``: a flag of the other task is one error, never ignored.

Flags of one task default to ``None`` (or ``False``) on the command line, so a flag given is a flag
set, whatever its value; each task fills in its own defaults afterwards.
"""

from __future__ import annotations

import argparse
from typing import Any

from .errors import EvalError

# argparse destination -> flag
VIDEO_FLAGS = {
    "prompts": "--prompts", "limit_prompts": "--limit-prompts", "seeds": "--seeds", "steps": "--steps",
    "height": "--height", "width": "--width", "frames": "--frames", "guidance_scale": "--guidance-scale",
    "negative_prompt": "--negative-prompt", "fps": "--fps", "vbench": "--vbench",
    "vbench_dimensions": "--vbench-dimensions", "retry_failed": "--retry-failed", "report_only": "--report-only",
    "no_warmup_run": "--no-warmup-run", "measure_compute": "--measure-compute",
}
VQA_FLAGS = {"clips": "--clips", "calibration_clips": "--calibration-clips"}
SHARED_FLAGS = ("--model", "--methods", "--dtype", "--device", "--out", "--force", "--quiet")
TASK_FLAGS = {"video": VIDEO_FLAGS, "vqa": VQA_FLAGS}
DEFAULT_CLIPS = 50  # --task vqa: held-out clips
DEFAULT_CALIBRATION_CLIPS = 16  # --task vqa: training clips PrefixKV is calibrated on


def _given(args: argparse.Namespace, flags: dict[str, str]) -> list[str]:
    return [flag for dest, flag in flags.items() if getattr(args, dest) not in (None, False)]


def check_task_flags(args: argparse.Namespace) -> None:
    """Refuse the flags of the task not chosen, naming them (and, for vqa, the flags it takes)."""
    for task, flags in TASK_FLAGS.items():
        if task == args.task:
            continue
        given = _given(args, flags)
        if given:
            verb, them = ("applies", "it") if len(given) == 1 else ("apply", "them")
            takes = "" if args.task == "video" else \
                f"; --task {args.task} takes {', '.join([*SHARED_FLAGS, *TASK_FLAGS[args.task].values()])}"
            raise EvalError(f"{', '.join(given)} {verb} only to --task {task}{takes}. Leave {them} out, or use "
                            f"--task {task}.")


def with_defaults(args: argparse.Namespace, defaults: dict[str, Any]) -> argparse.Namespace:
    """``args`` with ``defaults`` filled in where a flag was not given."""
    return argparse.Namespace(**{**vars(args), **{key: value for key, value in defaults.items()
                                                  if getattr(args, key, None) is None}})
