"""The bundled toy-vlm reads the colours of clips it never saw (its measured strength; see docs/MODELS.md)."""

import pytest

import mmcache.pipelines
from mmcache.pipelines.loader import bundled_path, is_vlm_folder
from mmcache.pipelines.vlm.data import evaluation_set

pytestmark = pytest.mark.skipif(not is_vlm_folder(bundled_path("toy-vlm")), reason="toy-vlm is not installed")


def test_colour_and_background_of_held_out_clips():
    pipe = mmcache.pipelines.load("toy-vlm", device="cpu")
    examples = evaluation_set(6, pipe.processor.num_frames, pipe.processor.size)
    rows = [i for i, kind in enumerate(examples.kinds) if kind in ("colour", "background")]
    answers = pipe.answer_batch([examples.frames[i] for i in rows], [examples.questions[i] for i in rows])
    assert answers == [examples.answers[i] for i in rows]
