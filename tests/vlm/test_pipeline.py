"""The video-QA pipeline's contract on the tiny random model: loading, answering, saving, the processor's layout."""

import numpy as np
import pytest
import torch
from transformers import Qwen2VLForConditionalGeneration

import mmcache.pipelines
from mmcache.pipelines.loader import TINY_VLM, available_models, available_vlms, is_vision_language, model_source
from mmcache.pipelines.toy.data import make_clip
from mmcache.pipelines.vlm import QUESTIONS, ToyVLMProcessor, VideoQAPipeline
from mmcache.pipelines.vlm.configs import TOY_VLM_SPEC, build_processor
from mmcache.pipelines.vlm.measure import cache_bytes, measured_answer


@pytest.fixture(scope="module")
def pipe():
    return mmcache.pipelines.load(TINY_VLM, device="cpu")


@pytest.fixture(scope="module")
def clip():
    return make_clip(0, 0, "train", 4, 32).frames


def test_load_gives_model_processor_and_a_one_word_answer(pipe, clip):
    assert isinstance(pipe, VideoQAPipeline)
    assert isinstance(pipe.model, Qwen2VLForConditionalGeneration) and isinstance(pipe.processor, ToyVLMProcessor)
    answer = pipe(clip, QUESTIONS["colour"])
    assert isinstance(answer, str) and answer == pipe(clip, QUESTIONS["colour"])  # greedy: deterministic


def test_names(pipe):
    assert TINY_VLM in available_vlms() and TINY_VLM not in available_models()
    assert is_vision_language(TINY_VLM) and not is_vision_language("toy-t2v")
    assert model_source(TINY_VLM) == "vlm" and pipe.mmcache_model_name == TINY_VLM


def test_toy_vlm_reads_at_least_256_visual_tokens_per_clip():
    processor = build_processor(TOY_VLM_SPEC)
    clip = make_clip(0, 0, "train", TOY_VLM_SPEC.num_frames, TOY_VLM_SPEC.size).frames
    inputs = processor(text=QUESTIONS["shape"], videos=clip)
    visual = int((inputs["input_ids"] == processor.tokenizer.video_token_id).sum())
    assert visual == processor.video_tokens(8) == 256
    assert inputs["video_grid_thw"].tolist() == [[4, 16, 16]]
    assert int((inputs["mm_token_type_ids"] == 2).sum()) == visual


def test_patches_are_laid_out_as_the_patch_embedding_reads_them():
    processor = build_processor(TOY_VLM_SPEC)
    clip = np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    pixels = processor(text="what shape is it", videos=clip)["pixel_values_videos"]
    video = torch.from_numpy(clip).permute(3, 0, 1, 2).float() / 127.5 - 1.0  # (C, T, H, W)
    # the first merged block: patches (row 0, col 0), (0, 1), (1, 0), (1, 1) of frames 0-1; then row 0, col 2
    expected = [video[:, 0:2, 4 * r:4 * r + 4, 4 * c:4 * c + 4] for r, c in ((0, 0), (0, 1), (1, 0), (1, 1), (0, 2))]
    for row, patch in enumerate(expected):
        assert torch.allclose(pixels[row].view(3, 2, 4, 4), patch)
    later = video[:, 2:4, 0:4, 0:4]  # the second temporal slice starts after the first slice's 256 patches
    assert torch.allclose(pixels[256].view(3, 2, 4, 4), later)


def test_odd_frame_counts_and_other_sizes_are_read(pipe):
    clip = make_clip(0, 1, "train", 5, 48).frames
    inputs = pipe.inputs(clip, QUESTIONS["shape"])
    assert inputs["video_grid_thw"].tolist() == [[3, 8, 8]]  # the last frame repeated; frames resized to 32
    assert isinstance(pipe(clip, QUESTIONS["shape"]), str)


def test_a_batch_answers_as_single_calls_do(pipe):
    clips = [make_clip(0, index, "train", 4, 32).frames for index in range(3)]
    questions = [QUESTIONS["colour"], QUESTIONS["direction"], QUESTIONS["shape"]]  # prompts of unequal lengths
    assert pipe.answer_batch(clips, questions) == [pipe(c, q) for c, q in zip(clips, questions)]


def test_save_and_load_round_trip(pipe, clip, tmp_path):
    pipe.save_pretrained(tmp_path)
    again = mmcache.pipelines.load(str(tmp_path), device="cpu")
    assert isinstance(again, VideoQAPipeline) and is_vision_language(str(tmp_path))
    assert again(clip, QUESTIONS["direction"]) == pipe(clip, QUESTIONS["direction"])
    assert again.processor.num_frames == pipe.processor.num_frames == 4


def test_words_outside_the_vocabulary_are_found(pipe):
    assert pipe.processor.unknown_words("What COLOR is the shape?") == []
    assert pipe.processor.unknown_words("what hue is teh shape") == ["hue", "teh"]


def test_measured_answer_reports_its_costs(pipe, clip):
    run = measured_answer(pipe, clip, QUESTIONS["background"])
    assert run.answer == pipe(clip, QUESTIONS["background"])
    assert 0 < run.prefill_seconds <= run.seconds and run.visual_tokens == 32
    config = pipe.model.config.text_config
    head_dim = config.hidden_size // config.num_attention_heads
    cached = run.prompt_tokens + run.new_tokens - 1  # the last token is generated, never fed back
    assert run.kv_bytes == 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * cached * 4


def test_cache_bytes_of_no_cache_is_zero():
    assert cache_bytes(None) == 0


@pytest.mark.parametrize("frames", [np.zeros((4, 32, 32, 3), dtype=np.float32), np.zeros((32, 32, 3), np.uint8),
                                    np.zeros((0, 32, 32, 3), np.uint8), [np.zeros((32, 32, 3), np.uint8)]])
def test_bad_clips_are_refused_with_what_a_clip_is(pipe, frames):
    with pytest.raises(ValueError, match="clip"):
        pipe(frames, QUESTIONS["colour"])


def test_an_empty_question_is_refused(pipe, clip):
    with pytest.raises(ValueError, match="question is empty"):
        pipe(clip, "  ")
