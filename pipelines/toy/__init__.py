"""Bundled reference models trained by the project on a synthetic shapes world: its data and caption grammar
(``captions``, ``data``), the prompt-adherence checker (``detector``), how ``toy-t2v``, ``toy-df`` and ``toy-ar``
are built and trained (``configs``, ``train``, ``recipes``) and evaluated (``evaluate``); ``models/`` holds them,
loadable with ``DiffusionPipeline.from_pretrained``."""

from .captions import CaptionSpec, held_out_specs, parse_caption, train_specs
from .data import make_clip, make_dataset
from .detector import AdherenceScore, score_segments, score_video

__all__ = ["AdherenceScore", "CaptionSpec", "held_out_specs", "make_clip", "make_dataset", "parse_caption",
           "score_segments", "score_video", "train_specs"]
