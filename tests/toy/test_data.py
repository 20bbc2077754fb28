"""The synthetic shapes world: grammar, held-out split, deterministic clips."""

import numpy as np
import pytest

from mmcache.pipelines.toy import captions
from mmcache.pipelines.toy.captions import CaptionSpec, held_out_specs, parse_caption, train_specs
from mmcache.pipelines.toy.data import make_clip, make_dataset, to_model_range


def test_grammar_covers_required_combinations():
    assert len(captions.COLOURS) >= 5 and len(captions.SHAPES) >= 3 and len(captions.MOTIONS) >= 4
    assert len(captions.all_specs()) == 5 * 3 * 4 * 3


def test_caption_round_trip_and_parsing():
    for spec in captions.all_specs():
        assert parse_caption(spec.text) == spec
    assert parse_caption("A Red circle moving left.") == CaptionSpec("red", "circle", "left", "black")
    with pytest.raises(ValueError, match="grammar"):
        parse_caption("a cat sitting")
    with pytest.raises(ValueError, match="colour"):
        parse_caption("a pink circle moving left")


def test_held_out_split_is_disjoint_and_balanced():
    held = {(spec.colour, spec.shape, spec.motion) for spec in held_out_specs()}
    seen = {(spec.colour, spec.shape, spec.motion) for spec in train_specs()}
    assert held.isdisjoint(seen)
    assert len(held_out_specs()) >= 40
    for colour in captions.COLOURS:  # every word still occurs in training
        assert any(t[0] == colour for t in seen)
    for motion in captions.MOTIONS:
        assert any(t[2] == motion for t in seen)


def test_clips_are_deterministic_per_seed_and_index():
    a = make_clip(3, 7, "train")
    b = make_clip(3, 7, "train")
    c = make_clip(3, 8, "train")
    assert a.caption == b.caption and np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)
    assert a.frames.shape == (17, 64, 64, 3) and a.frames.dtype == np.uint8


def test_splits_draw_from_their_own_captions():
    _, train_captions = make_dataset(0, 50, "train")
    _, held_captions = make_dataset(0, 50, "held_out")
    held = {s.text for s in held_out_specs()}
    assert not held & set(train_captions)
    assert set(held_captions) <= held


def test_dataset_start_offset_matches_single_clips():
    frames, names = make_dataset(1, 3, "all", num_frames=5, size=32, start=4)
    clip = make_clip(1, 5, "all", num_frames=5, size=32)
    assert np.array_equal(frames[1], clip.frames) and names[1] == clip.caption
    video = to_model_range(frames)
    assert video.shape == (3, 3, 5, 32, 32) and video.min() >= -1 and video.max() <= 1
