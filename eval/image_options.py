"""What the command line asked of ``mmcache eval --task image``."""

from __future__ import annotations

import dataclasses

from .plain_task_options import PlainTaskOptions
from .task_flags import DEFAULT_CALIBRATION_PROMPTS, DEFAULT_IMAGES

DEFAULT_METHODS = "hack"


@dataclasses.dataclass
class ImageOptions(PlainTaskOptions):
    """``model`` ``None``: toy-var, or tiny:var without its weights; image ``i`` of base seed ``s`` is seeded
    ``s + i``."""

    method_texts: list[str] = dataclasses.field(default_factory=lambda: [DEFAULT_METHODS])
    images: int = DEFAULT_IMAGES
    seeds: tuple[int, ...] = (0,)
    calibration_prompts: int = DEFAULT_CALIBRATION_PROMPTS
