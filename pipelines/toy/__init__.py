"""The bundled models (``models/``: toy-t2v, toy-df, toy-ar), their synthetic shapes world (``captions``, ``data``),
adherence detector (``detector``), training (``configs``, ``train``, ``recipes``) and evaluation (``evaluate``)."""

from .captions import CaptionSpec, held_out_specs, parse_caption, train_specs
from .data import make_clip, make_dataset
from .detector import AdherenceScore, score_segments, score_video

__all__ = ["AdherenceScore", "CaptionSpec", "held_out_specs", "make_clip", "make_dataset", "parse_caption",
           "score_segments", "score_video", "train_specs"]
