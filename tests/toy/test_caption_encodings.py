"""The text check: an encoder that merges a word's values on one background scores 0 for that word there only."""

from pathlib import Path

import pytest
import torch
from mmcache.pipelines.toy.caption_encodings import word_swap_distances
from mmcache.pipelines.toy.captions import MOTIONS, vocabulary_words

MODELS = Path(__file__).resolve().parents[2] / "pipelines" / "toy" / "models"
TABLE = {word: torch.randn(8, generator=torch.Generator().manual_seed(i)) for i, word in enumerate(vocabulary_words())}


def word_encoder(merge_motions_on: str | None):
    """One vector per word; on captions mentioning ``merge_motions_on`` every motion word gets the same vector."""
    def encode(texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            words = text.split()
            merged = merge_motions_on is not None and merge_motions_on in words
            rows.append(torch.stack([TABLE["left"] if merged and w in MOTIONS else TABLE[w] for w in words]))
        return torch.stack(rows)
    return encode


def test_a_word_merged_on_one_background_scores_zero_there_only():
    result = word_swap_distances(word_encoder("gray"))
    assert set(result) == {"black", "gray", "white"}
    assert result["gray"]["motion"] == 0.0
    assert result["black"]["motion"] > 0.1 and result["white"]["motion"] > 0.1
    assert all(result[bg]["colour"] > 0.1 and result[bg]["shape"] > 0.1 for bg in result)
    assert result["gray"]["captions"] == 60


def test_the_bundled_text_encoder_separates_every_word_on_every_background():
    from diffusers import WanPipeline
    from mmcache.pipelines.toy.caption_sensitivity import caption_states

    pipe = WanPipeline.from_pretrained(str(MODELS / "toy-t2v"))
    result = word_swap_distances(lambda texts: caption_states(pipe, texts))
    for background, row in result.items():
        for word in ("motion", "colour", "shape"):
            assert 0.05 < row[word] < 2.0, (background, word, row[word])


def test_a_background_without_captions_is_left_out():
    from mmcache.pipelines.toy.captions import CaptionSpec
    result = word_swap_distances(word_encoder(None), [CaptionSpec("red", "circle", "left", "white")])
    assert list(result) == ["white"] and result["white"]["motion"] == pytest.approx(
        float((TABLE["left"] - TABLE["right"]).norm() / torch.stack([TABLE[w] for w in
              "a red circle moving left on a white background".split()]).norm()))
