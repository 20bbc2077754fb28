"""What the command line asked of ``mmcache eval --task vqa``."""

from __future__ import annotations

import dataclasses

from .plain_task_options import PlainTaskOptions
from .task_flags import DEFAULT_CALIBRATION_CLIPS, DEFAULT_CLIPS

DEFAULT_METHODS = "prefixkv"


@dataclasses.dataclass
class VqaOptions(PlainTaskOptions):
    """``model`` ``None``: toy-vlm, or tiny:vlm without its weights."""

    method_texts: list[str] = dataclasses.field(default_factory=lambda: [DEFAULT_METHODS])
    clips: int = DEFAULT_CLIPS
    calibration_clips: int = DEFAULT_CALIBRATION_CLIPS
