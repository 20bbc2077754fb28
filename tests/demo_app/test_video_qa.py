"""The Video QA tab driven with gradio_client on tiny:vlm: both answers, their costs and the kept-token heat map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

API = "/video_qa"
QUESTION = "which way does it move?"
CAPTION = "a red circle moving left on a black background"
# SnapKV keeping a quarter of the prompt, its observation window small enough to leave room for a choice
QUARTER = {"method": "snapkv", "snapkv_budget": 0.25, "snapkv_window": 4}


def ask(client: Any, **overrides: Any) -> tuple:
    arguments = {"model": "tiny:vlm", "clip": "caption", "caption": CAPTION, "seed": 3, "question": QUESTION,
                 **QUARTER, **overrides}
    return client.predict(api_name=API, **arguments)


def test_both_answers_their_costs_and_the_heat_map(client):
    from mmcache.demos.kept_heatmap import GAP, panel_side
    from mmcache.pipelines.loader import load
    from mmcache.pipelines.toy.captions import parse_caption
    from mmcache.pipelines.toy.data import render_clip, sample_params

    plain_answer, method_answer, summary, heatmap, metrics = ask(client)

    pipe = load("tiny:vlm", device="cpu")
    frames = render_clip(parse_caption(CAPTION), sample_params(np.random.default_rng(3)), pipe.processor.num_frames,
                         pipe.processor.size)
    assert plain_answer == metrics["plain"]["answer"] == pipe(frames, QUESTION)
    assert method_answer == metrics["method"]["answer"] and metrics["answers_agree"] == (plain_answer == method_answer)

    plain, method = metrics["plain"], metrics["method"]
    prompt = plain["prompt_tokens"]
    assert plain["prompt_kept_fraction"] == 1.0
    assert method["prompt_kept_fraction"] == pytest.approx(round(0.25 * prompt) / prompt)
    assert 0 < method["kv_bytes"] < plain["kv_bytes"] and metrics["kv_bytes_held"] < metrics["kv_bytes_full"]
    assert plain["prefill_seconds"] > 0 and method["prefill_seconds"] > 0
    assert f"| prompt KV kept | 100.0% | {method['prompt_kept_fraction']:.1%} |" in summary
    assert f"| answer | {plain_answer or '(empty)'} | {method_answer or '(empty)'} |" in summary

    groups, rows, cols = metrics["visual_grid"]
    assert (groups, rows, cols) == (2, 4, 4) and groups * rows * cols == plain["visual_tokens"]
    share = np.array(metrics["visual_kept_share_grid"])
    assert share.shape == (groups, rows, cols) and ((share >= 0) & (share <= 1)).all()
    assert 0 < share.mean() < 0.5  # a quarter of the prompt kept, the observation window at its end
    side = panel_side(pipe.processor.size, rows)
    assert Image.open(heatmap).size == (groups * side + (groups - 1) * GAP, side)


def test_a_method_that_keeps_everything_colours_every_token_kept(client):
    plain_answer, method_answer, _, heatmap, metrics = ask(client, method="streamingllm", streamingllm_budget=1.0)
    assert plain_answer == method_answer and metrics["method"]["prompt_kept_fraction"] == 1.0
    assert metrics["visual_kept_share"] == 1.0 and np.array(metrics["visual_kept_share_grid"]).min() == 1.0
    assert Image.open(heatmap).mode == "RGB"


def test_an_uploaded_video_uses_its_first_frames(client, tmp_path):
    from gradio_client import handle_file

    from mmcache.pipelines.toy.data import make_clip
    from mmcache.video import write_mp4

    write_mp4(make_clip(0, 0, "train", 6, 48).frames, tmp_path / "clip.mp4")
    _, _, summary, _, metrics = ask(client, clip="video file", video=handle_file(str(tmp_path / "clip.mp4")))
    assert metrics["clip"] == "clip.mp4: frames 1-4 of 6, 48x48" and metrics["frames"] == 4
    assert "clip.mp4: frames 1-4 of 6" in summary


BAD_INPUTS = [
    ({"question": "   "}, "The question is empty"),
    ({"question": "what is the weather like?"}, "tiny:vlm does not know the word(s) 'weather', 'like'"),
    ({"model": "tiny:wan2.1-t2v"}, "tiny:wan2.1-t2v generates video and cannot answer questions"),
    ({"model": "no-such-model"}, "Unknown video-QA model 'no-such-model'"),
    ({"model": "tiny:nope"}, "Unknown video-QA model 'tiny:nope'"),
    ({"model": "owner/model"}, "Unknown video-QA model 'owner/model'"),  # the demo never downloads
    ({"clip": "video file"}, "No clip: upload a video file"),
    ({"caption": " "}, "No clip: describe one"),
    ({"caption": "a plaid circle moving left"}, "caption: Unknown colour 'plaid'"),
    ({"seed": 1.5}, "seed must be a whole number, got 1.5"),
    ({"snapkv_budget": 0}, "SnapKVConfig.budget must be the fraction"),
    ({"snapkv_kernel": 2.5}, "snapkv kernel needs a whole number, got 2.5"),
    ({"method": "easycache"}, "Value: easycache is not in the list of choices"),  # Gradio: only KV methods offered
]


@pytest.mark.parametrize("overrides, message", BAD_INPUTS, ids=[message for _, message in BAD_INPUTS])
def test_bad_input_shows_a_clear_message(client, overrides, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=f"^{message}".replace("(", r"\(").replace(")", r"\)")):
        ask(client, **overrides)


def test_a_folder_without_a_video_qa_model_is_refused(client, tmp_path):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="is a folder but not a saved video-QA model"):
        ask(client, model=str(tmp_path))


def test_an_unreadable_upload_is_refused_and_the_tab_keeps_serving(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(AppError, match="could not be decoded as a video"):
        ask(client, clip="video file", video=handle_file(str(tmp_path / "notes.mp4")))
    assert ask(client)[4]["model"] == "tiny:vlm"


def test_the_visual_tokens_are_read_in_the_processors_order():
    from mmcache.demos.kept_heatmap import visual_token_grid

    video, text = 9, 1
    input_ids = np.array([text, *[video] * 8, text, text])
    share = np.arange(len(input_ids), dtype=float)
    grid = visual_token_grid(share, input_ids, video, (2, 4, 4), 2)
    assert grid.tolist() == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    with pytest.raises(ValueError, match="holds 8 visual tokens"):
        visual_token_grid(share, input_ids, video, (2, 8, 8), 2)
