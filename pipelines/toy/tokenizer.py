"""A word-level tokenizer for the caption grammar, built in code and saved as ``tokenizer.json``.

Ids follow T5 conventions (``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2) and ``</s>`` is appended to
every text, so Wan-style pipelines call it exactly like the UMT5 tokenizer. Text is lower-cased and
punctuation is dropped; words outside the grammar map to ``<unk>``.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from .captions import vocabulary_words

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
MAX_CAPTION_TOKENS = 16  # longest caption of the grammar (10 words + </s>) with room to spare


def vocabulary() -> dict[str, int]:
    """Special tokens, then the grammar's words."""
    return {token: index for index, token in enumerate(list(SPECIAL_TOKENS) + vocabulary_words())}


def word_level_backend(vocab: dict[str, int], spellings: dict[str, str] | None = None) -> Tokenizer:
    """A word-level ``tokenizers`` model over ``vocab``: lower-cased, each ``spellings`` word replaced by its
    entry, punctuation dropped, split on whitespace; other words map to ``<unk>``."""
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    steps = [normalizers.Lowercase()]
    steps += [normalizers.Replace(Regex(rf"\b{word}\b"), spelled) for word, spelled in (spellings or {}).items()]
    backend.normalizer = normalizers.Sequence([*steps, normalizers.Replace(Regex(r"[^a-z\s]"), " ")])
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return backend


def build_tokenizer(model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """The caption tokenizer as a ``PreTrainedTokenizerFast``."""
    backend = word_level_backend(vocabulary())
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", EOS_ID)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
        model_max_length=model_max_length,
    )


def save_tokenizer(folder: str | Path) -> None:
    build_tokenizer().save_pretrained(str(folder))
