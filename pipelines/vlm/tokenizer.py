"""toy-vlm's word-level tokenizer: the questions' and answers' words plus Qwen2-VL's vision tokens.

Ids: ``<pad>`` 0, ``</s>`` 1 (end of an answer), ``<unk>`` 2, then the vision markers, then the words. Text is
lower-cased, ``color`` is read as ``colour`` and punctuation is dropped; nothing is appended to a text (the
answer follows the question directly).
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerFast

from ..toy.configs import word_level_backend
from .questions import SPELLINGS, answer_words, question_words

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
VISION_START, VISION_END, VIDEO_PAD, IMAGE_PAD = "<|vision_start|>", "<|vision_end|>", "<|video_pad|>", "<|image_pad|>"
SPECIAL_TOKENS = (PAD, EOS, UNK, VISION_START, VISION_END, VIDEO_PAD, IMAGE_PAD)


def vocabulary() -> dict[str, int]:
    """Special tokens, then the question words, then the answers."""
    words = list(SPECIAL_TOKENS) + list(dict.fromkeys(question_words() + answer_words()))
    return {token: index for index, token in enumerate(words)}


def build_tokenizer() -> PreTrainedTokenizerFast:
    """The tokenizer as a ``PreTrainedTokenizerFast`` (saved as ``tokenizer.json``)."""
    return PreTrainedTokenizerFast(
        tokenizer_object=word_level_backend(vocabulary(), SPELLINGS), pad_token=PAD, eos_token=EOS, unk_token=UNK,
        padding_side="left",
        extra_special_tokens={"video_token": VIDEO_PAD, "image_token": IMAGE_PAD, "vision_start_token": VISION_START,
                              "vision_end_token": VISION_END},
    )
