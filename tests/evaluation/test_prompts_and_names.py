"""Prompt lists (built-in, VBench text files, JSON) and VBench-style video names for any prompt."""

from __future__ import annotations

import json
import re
from pathlib import PurePath

import pytest

from mmcache.eval.errors import EvalError
from mmcache.eval.naming import MAX_NAME_BYTES, prompt_stem, prompt_stems, video_name
from mmcache.eval.prompts import BUILTIN_PROMPTS, load_prompts


def vbench_prompt_of(file_name: str) -> str:
    """What VBench reads back from a file name in custom-input mode: the stem without ``-<digits>``."""
    return re.sub(r"-\d+$", "", PurePath(file_name).stem)


def test_builtin_prompts_are_in_the_reference_grammar():
    detector = pytest.importorskip("mmcache.pipelines.toy.captions")
    prompts = load_prompts("builtin").prompts
    assert prompts == BUILTIN_PROMPTS
    for prompt in prompts:
        detector.parse_caption(prompt)


def test_vbench_text_file_one_prompt_per_line(tmp_path):
    path = tmp_path / "all_dimension.txt"
    path.write_text("In a still frame, a stop sign\n\n  a toilet, frozen in time  \nIn a still frame, a stop sign\n")
    prompts = load_prompts(str(path))
    assert prompts.prompts == ("In a still frame, a stop sign", "a toilet, frozen in time")
    assert prompts.dropped_duplicates == 1
    assert load_prompts(str(path), limit=1).prompts == ("In a still frame, a stop sign",)


def test_json_lists_of_strings_or_vbench_entries(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(["a cat", {"prompt_en": "a dog", "dimension": ["scene"]}, {"prompt": "a fox"}]))
    assert load_prompts(str(path)).prompts == ("a cat", "a dog", "a fox")
    path.write_text(json.dumps({"a": 1}))
    with pytest.raises(EvalError, match="must hold a JSON list"):
        load_prompts(str(path))


def test_missing_or_empty_prompt_files_are_clear_errors(tmp_path):
    with pytest.raises(EvalError, match="does not exist"):
        load_prompts(str(tmp_path / "nope.txt"))
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(EvalError, match="No prompts"):
        load_prompts(str(tmp_path / "empty.txt"))


def test_ordinary_prompts_keep_vbench_names_verbatim():
    prompt = "A beautiful coastal beach in spring, waves lapping on sand by Hokusai, in the style of Ukiyo"
    name = video_name(prompt_stem(prompt), 3)
    assert name == prompt + "-3.mp4"
    assert vbench_prompt_of(name) == prompt


def test_slashes_and_long_prompts_get_safe_distinct_names():
    slash = "day/night timelapse"
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    stems = prompt_stems([slash, long_a, long_b, "é" * 200])
    assert "/" not in stems[0] and stems[0].startswith("day_night timelapse~")
    assert len(set(stems)) == 4
    for stem in stems:
        assert len(video_name(stem, 4).encode("utf-8")) <= MAX_NAME_BYTES


def test_names_that_collide_after_cleaning_get_the_hash():
    stems = prompt_stems(["a/b", "a\\b", "Cat", "cat"])
    assert len(set(stem.lower() for stem in stems)) == 4
