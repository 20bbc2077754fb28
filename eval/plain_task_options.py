"""What the command line asks of a task that compares methods with the plain model (``--task vqa``, ``--task image``);
each task adds its own fields (``vqa_options``, ``image_options``)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class PlainTaskOptions:
    """The fields both tasks take (``model`` ``None``: the task's default model; ``method_texts``: the task's default
    methods, set by each task)."""

    out: str
    model: str | None = None
    method_texts: list[str] = dataclasses.field(default_factory=list)
    dtype: str | None = None
    device: str | None = None
    force: bool = False
    retry_failed: bool = False
    report_only: bool = False
    quiet: bool = False
