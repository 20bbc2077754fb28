"""Question-answer examples over the shapes world: a clip, one of the four questions, its one-word answer.

Training examples come from the training captions only; held-out examples from the 45 held-out captions
(``mmcache.pipelines.toy.captions.is_held_out``), whose (colour, shape, motion) triplets no training clip shows.
Example ``i`` of a stream is a function of ``(seed, step)`` or ``(seed, i)`` only, so runs resume exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from transformers import BatchFeature

from ..toy.data import EVAL_SEED, Split, make_clip
from .processor import ToyVLMProcessor
from .questions import KINDS, QUESTIONS, TRAINING_SHARE, answer

HELD_OUT_SEED = EVAL_SEED


@dataclasses.dataclass
class QASet:
    """Parallel lists: clip, caption, question kind, question and expected answer of each example."""

    frames: list[np.ndarray]
    captions: list[str]
    kinds: list[str]
    questions: list[str]
    answers: list[str]

    def __len__(self) -> int:
        return len(self.frames)

    def rows(self, start: int, stop: int) -> "QASet":
        return QASet(*(getattr(self, field.name)[start:stop] for field in dataclasses.fields(self)))


def _example_set(clips: list, kinds: list[str]) -> QASet:
    return QASet([clip.frames for clip in clips], [clip.caption for clip in clips], kinds,
                 [QUESTIONS[kind] for kind in kinds], [answer(clip.spec, kind) for clip, kind in zip(clips, kinds)])


def training_batch(seed: int, step: int, batch_size: int, num_frames: int, size: int) -> QASet:
    """The examples of training step ``step``: new clips of training captions, kinds drawn by ``TRAINING_SHARE``."""
    rng = np.random.default_rng([int(seed), int(step), 7])
    kinds = [str(kind) for kind in rng.choice(list(TRAINING_SHARE), size=batch_size, p=list(TRAINING_SHARE.values()))]
    clips = [make_clip(seed, step * batch_size + i, "train", num_frames, size) for i in range(batch_size)]
    return _example_set(clips, kinds)


def evaluation_set(clips: int, num_frames: int, size: int, split: Split = "held_out",
                   seed: int = HELD_OUT_SEED) -> QASet:
    """``clips`` clips of ``split``, each asked every question (``4 × clips`` examples)."""
    rendered = [make_clip(seed, index, split, num_frames, size) for index in range(clips)]
    return _example_set([clip for clip in rendered for _ in KINDS], [kind for _ in rendered for kind in KINDS])


def with_answers(processor: ToyVLMProcessor, examples: QASet) -> BatchFeature:
    """Prompts (padded on the left) followed by each answer word and ``</s>``: the last two tokens are the targets."""
    batch = processor(text=examples.questions, videos=examples.frames)
    tokenizer = processor.tokenizer
    targets = torch.tensor([[tokenizer.convert_tokens_to_ids(word), tokenizer.eos_token_id]
                            for word in examples.answers])
    batch["input_ids"] = torch.cat([batch["input_ids"], targets], dim=1)
    batch["attention_mask"] = torch.cat([batch["attention_mask"], torch.ones_like(targets)], dim=1)
    batch["mm_token_type_ids"] = torch.cat([batch["mm_token_type_ids"], torch.zeros_like(targets)], dim=1)
    return batch
