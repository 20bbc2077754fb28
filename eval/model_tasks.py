"""Which ``mmcache eval --task`` evaluates which model: a model given to another task is one error naming its task.

Nothing is loaded: video-QA models (``toy-vlm``, ``tiny:vlm``, a saved video-QA folder) belong to
``vqa``, next-scale-prediction image models (``toy-var``, ``tiny:var``, a saved ``VARPipeline``
folder) to ``image``, every other model to ``video``.
"""

from __future__ import annotations

from .errors import EvalError

WHAT_IT_DOES = {"video": "generates video", "vqa": "answers questions about clips (a video-QA model)",
                "image": "makes images by next-scale prediction (a VAR model)"}


def model_task(model: str) -> str:
    """The task that evaluates ``model``; ``ModelNotFoundError`` (one line) for a model that cannot be found."""
    from mmcache.pipelines.loader import is_next_scale, model_source

    if model_source(model) == "vlm":
        return "vqa"
    return "image" if is_next_scale(model) else "video"


def check_model_task(model: str, task: str, evaluates: str) -> None:
    """Refuse a model of another task than ``task``, which ``evaluates`` the models it describes."""
    other = model_task(model)
    if other != task:
        raise EvalError(f"--model {model} {WHAT_IT_DOES[other]}; --task {task} evaluates {evaluates} (or evaluate "
                        f"it with --task {other}).")
