"""Which ``mmcache eval --task`` evaluates which method: a method given to another task is one error naming its task.

Registered methods go by their role (``kv``: video-QA models, ``scale_kv``: next-scale-prediction image
models, the rest: video generation); peers are video-generation methods.
"""

from __future__ import annotations

from mmcache.methods.base import registered_methods

from .errors import EvalError
from .peers import PEERS

ROLE_TASKS = {"kv": "vqa", "scale_kv": "image"}
TASK_METHODS = {"video": "a video-generation method", "vqa": "a KV method of video-QA models",
                "image": "a scale-KV method of next-scale-prediction (VAR) image models"}


def method_task(name: str) -> str | None:
    """The task that evaluates the method or peer ``name``; ``None`` for a name mmcache does not know."""
    if name in registered_methods():
        return ROLE_TASKS.get(registered_methods()[name].role, "video")
    return "video" if name in PEERS else None


def methods_of_task(task: str) -> list[str]:
    """The registered methods ``--task task`` takes, sorted (peers are the video task's too)."""
    return sorted(name for name in registered_methods() if method_task(name) == task)


def other_task_error(name: str, spec: str, task: str, known: str) -> EvalError | None:
    """The error for ``spec`` naming a method of a task other than ``task`` (``known``: what ``task`` takes)."""
    other = method_task(name)
    if other is None or other == task:
        return None
    return EvalError(f"{spec!r}: {name} is {TASK_METHODS[other]}; {known}, or use --task {other}.")
