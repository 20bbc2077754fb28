"""The prompt-adherence detector on ground-truth synthetic clips."""

import numpy as np
import pytest

from mmcache.pipelines.toy.captions import CaptionSpec, parse_caption
from mmcache.pipelines.toy.data import MotionParams, make_dataset, render_clip
from mmcache.pipelines.toy.detector import keeps_first_segment, score_segments, score_video


@pytest.fixture(scope="module")
def clips():
    return make_dataset(11, 60, "all")


def test_true_captions_score_right(clips):
    frames, names = clips
    scores = [score_video(f, c) for f, c in zip(frames, names)]
    assert all(s.colour_ok for s in scores)
    assert all(s.direction_ok for s in scores)
    assert sum(s.shape_ok is True for s in scores) >= 0.95 * len(scores)
    assert all(s.ok for s in scores)


def test_shuffled_captions_score_wrong(clips):
    """Every clip paired with another clip's caption of another colour or motion is scored wrong."""
    frames, names = clips

    def colour_and_motion(caption: str) -> tuple[str, str]:
        spec = parse_caption(caption)
        return spec.colour, spec.motion

    order = np.random.default_rng(11).permutation(len(names))
    wrong = [(i, names[o]) for i, o in enumerate(order) if colour_and_motion(names[i]) != colour_and_motion(names[o])]
    assert len(wrong) >= 40
    assert not any(score_video(frames[i], caption).ok for i, caption in wrong)


@pytest.mark.parametrize("size,frames", [(32, 9), (96, 17)])
def test_detector_works_at_other_resolutions(size, frames):
    videos, names = make_dataset(5, 12, "all", num_frames=frames, size=size)
    assert all(score_video(v, c).ok for v, c in zip(videos, names))


def test_static_object_has_no_direction_and_float_input_is_accepted():
    spec = CaptionSpec("blue", "square", "left", "gray")
    still = render_clip(spec, MotionParams(0.5, 0.5, 0.0, 0.15), 17, 64)
    score = score_video(still.astype(np.float32) / 255.0, spec)
    assert score.colour_ok and score.shape_ok and not score.direction_ok
    assert score.details["direction"] is None


def test_blank_video_fails_colour():
    score = score_video(np.zeros((17, 64, 64, 3), np.uint8), "a red circle moving up")
    assert not score.colour_ok and not score.direction_ok and score.shape_ok is None


def test_long_wrapping_video_stays_coherent():
    spec = CaptionSpec("yellow", "triangle", "down", "white")
    video = render_clip(spec, MotionParams(0.2, 0.9, 2.5 / 64, 0.14), 65, 64)  # crosses the edge twice
    segments = score_segments(video, spec, length=17, stride=8)
    assert len(segments) >= 6 and all(s.ok for s in segments)


def test_self_consistency_tells_a_kept_motion_from_a_turn():
    spec = CaptionSpec("red", "circle", "left", "black")
    params = MotionParams(0.6, 0.5, 2.0 / 64, 0.14)
    kept = render_clip(spec, params, 41, 64)
    turned = np.concatenate([kept[:21], render_clip(CaptionSpec("red", "circle", "up", "black"), params, 20, 64)])
    recoloured = np.concatenate([kept[:21], render_clip(CaptionSpec("blue", "circle", "left", "black"), params, 20, 64)])
    assert keeps_first_segment(score_segments(kept, spec, length=17, stride=8))
    assert not keeps_first_segment(score_segments(turned, spec, length=17, stride=8))
    assert not keeps_first_segment(score_segments(recoloured, spec, length=17, stride=8))


def test_long_video_coherence_names_what_each_window_showed(monkeypatch):
    from mmcache.pipelines.toy import evaluate

    spec = CaptionSpec("red", "circle", "left", "black")
    params = MotionParams(0.6, 0.5, 2.0 / 64, 0.14)
    kept = render_clip(spec, params, 41, 64)
    recoloured = np.concatenate([kept[:21], render_clip(CaptionSpec("blue", "circle", "left", "black"), params, 20, 64)])
    videos = iter([kept, recoloured])
    monkeypatch.setattr(evaluate, "generate_frames", lambda *_args, **_call: next(videos))
    result = evaluate.long_video_coherence(None, [spec, spec], num_frames=41)
    assert result["coherent"] == 0.5 and result["n"] == 2 and result["coherent_by_background"] == {"black": [1, 2]}
    first, second = result["videos"]
    assert first == {"caption": spec.text, "coherent": True, "windows": ["red left"] * 4}
    assert not second["coherent"] and second["windows"][0] == "red left" and second["windows"][-1] == "blue left"
