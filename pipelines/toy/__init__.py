"""Bundled reference models trained by the project on a synthetic shapes world.

* ``captions`` / ``render`` / ``data``: the deterministic synthetic data and its caption grammar;
* ``detector``: the prompt-adherence checker (colour, shape, direction) used by evaluation;
* ``tokenizer`` / ``configs`` / ``train`` / ``recipes``: how ``toy-t2v``, ``toy-df`` and ``toy-ar`` are built and
  trained;
* ``evaluate``: their prompt adherence, VAE PSNR, speed and long-video coherence;
* ``models/``: the trained pipelines, loadable with ``DiffusionPipeline.from_pretrained``.
"""

from .captions import CaptionSpec, held_out_specs, parse_caption, train_specs
from .data import make_clip, make_dataset
from .detector import AdherenceScore, score_segments, score_video

__all__ = [
    "AdherenceScore",
    "CaptionSpec",
    "held_out_specs",
    "make_clip",
    "make_dataset",
    "parse_caption",
    "score_segments",
    "score_video",
    "train_specs",
]
