"""Which `mmcache eval` flags belong to which ``--task``: a flag of another task is one error, never ignored.

Flags of one task default to ``None`` (or ``False``) on the command line, so a flag given is a flag
set, whatever its value; each task fills in its own defaults afterwards. ``--prompts`` and ``--seeds``
belong to two tasks (video: a prompt list; image: how many held-out images).
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
    "vbench_dimensions": "--vbench-dimensions", "no_warmup_run": "--no-warmup-run",
    "measure_compute": "--measure-compute",
}
VQA_FLAGS = {"clips": "--clips", "calibration_clips": "--calibration-clips"}
IMAGE_FLAGS = {"prompts": "--prompts", "seeds": "--seeds", "calibration_prompts": "--calibration-prompts"}
SHARED_FLAGS = ("--model", "--methods", "--dtype", "--device", "--out", "--force", "--retry-failed", "--report-only",
                "--quiet")
TASK_FLAGS = {"video": VIDEO_FLAGS, "vqa": VQA_FLAGS, "image": IMAGE_FLAGS}
DEFAULT_CLIPS = 50  # --task vqa: held-out clips
DEFAULT_CALIBRATION_CLIPS = 16  # --task vqa: training clips PrefixKV is calibrated on
DEFAULT_IMAGES = 45  # --task image: held-out images (each of the 15 held-out captions three times)
DEFAULT_CALIBRATION_PROMPTS = 8  # --task image: training captions HACK's head classes come from


def _tasks_taking(dest: str) -> tuple[str, ...]:
    return tuple(task for task, flags in TASK_FLAGS.items() if dest in flags)


def _refused(args: argparse.Namespace) -> dict[tuple[str, ...], list[str]]:
    """The flags given that ``args.task`` does not take, grouped by the tasks that do take them."""
    own = TASK_FLAGS[args.task]
    refused: dict[tuple[str, ...], list[str]] = {}
    for flags in TASK_FLAGS.values():
        for dest, flag in flags.items():
            if dest not in own and getattr(args, dest) not in (None, False):
                group = refused.setdefault(_tasks_taking(dest), [])
                if flag not in group:
                    group.append(flag)
    return refused


def check_task_flags(args: argparse.Namespace) -> None:
    """Refuse the flags of the tasks not chosen, naming them (and, but for video, the flags the task takes)."""
    refused = _refused(args)
    if not refused:
        return
    tasks, given = next(iter(refused.items()))
    verb, them = ("applies", "it") if len(given) == 1 else ("apply", "them")
    takes = "" if args.task == "video" else \
        f"; --task {args.task} takes {', '.join([*SHARED_FLAGS, *TASK_FLAGS[args.task].values()])}"
    raise EvalError(f"{', '.join(given)} {verb} only to --task {' or '.join(tasks)}{takes}. Leave {them} out, or "
                    f"use --task {tasks[0]}.")


def with_defaults(args: argparse.Namespace, defaults: dict[str, Any]) -> argparse.Namespace:
    """``args`` with ``defaults`` filled in where a flag was not given."""
    return argparse.Namespace(**{**vars(args), **{key: value for key, value in defaults.items()
                                                  if getattr(args, key, None) is None}})
