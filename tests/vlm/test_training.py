"""toy-vlm's data, training run (tiny architecture), evaluation and installation, on a few steps."""

import json

import pytest
import torch

import mmcache.pipelines
from mmcache.pipelines.toy.captions import is_held_out, parse_caption
from mmcache.pipelines.vlm import evaluate, install, train
from mmcache.pipelines.vlm.configs import TINY_VLM_SPEC, build_processor
from mmcache.pipelines.vlm.data import evaluation_set, training_batch, with_answers
from mmcache.pipelines.vlm.questions import KINDS, answer

TINY_RUN = ["--architecture", "tiny", "--batch-size", "2", "--threads", "1", "--eval-clips", "2"]


def test_training_examples_use_training_captions_and_held_out_ones_the_others():
    batch = training_batch(seed=0, step=3, batch_size=8, num_frames=4, size=32)
    assert not any(is_held_out(parse_caption(caption)) for caption in batch.captions)
    assert batch.answers == [answer(parse_caption(c), k) for c, k in zip(batch.captions, batch.kinds)]
    again = training_batch(seed=0, step=3, batch_size=8, num_frames=4, size=32)
    assert again.captions == batch.captions and again.kinds == batch.kinds
    held_out = evaluation_set(clips=3, num_frames=4, size=32)
    assert len(held_out) == 12 and held_out.kinds[:4] == list(KINDS)
    assert all(is_held_out(parse_caption(caption)) for caption in held_out.captions)


def test_the_last_two_tokens_are_the_answer_and_end():
    processor = build_processor(TINY_VLM_SPEC)
    examples = training_batch(seed=0, step=0, batch_size=3, num_frames=4, size=32)
    batch = with_answers(processor, examples)
    tokens = [processor.tokenizer.convert_ids_to_tokens(row[-2:].tolist()) for row in batch["input_ids"]]
    assert tokens == [[word, "</s>"] for word in examples.answers]
    assert batch["attention_mask"][:, -2:].all() and not batch["mm_token_type_ids"][:, -2:].any()


def test_two_steps_train_resume_exactly_and_export(tmp_path):
    assert train.main([*TINY_RUN, "--out", str(tmp_path / "whole"), "--steps", "2", "--eval-every", "1"])
    assert not train.main([*TINY_RUN, "--out", str(tmp_path / "parts"), "--steps", "2", "--chunk-steps", "1"])
    assert train.main([*TINY_RUN, "--out", str(tmp_path / "parts"), "--steps", "2", "--chunk-steps", "1"])
    whole, parts = (torch.load(tmp_path / name / "checkpoint.pt", weights_only=False) for name in ("whole", "parts"))
    assert whole["step"] == parts["step"] == 2
    assert all(torch.equal(whole["model"][key], parts["model"][key]) for key in whole["model"])
    log = [json.loads(line) for line in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    evaluations = [record for record in log if record["event"] == "eval"]
    assert [record["step"] for record in evaluations] == [1, 2] and set(evaluations[0]["held_out"]) == set(KINDS)
    pipe = mmcache.pipelines.load(str(tmp_path / "whole" / "model"), device="cpu")
    assert isinstance(pipe(evaluation_set(1, 4, 32).frames[0], "what shape is it?"), str)


def test_evaluate_reports_accuracy_per_question(tmp_path, capsys):
    report = evaluate.main(["--model", "tiny:vlm", "--clips", "3", "--threads", "1", "--out", str(tmp_path)])
    assert set(report["by_kind"]) == set(KINDS) and all(share["total"] == 3 for share in report["by_kind"].values())
    assert report["overall"]["total"] == 12 and report["num_frames"] == 4
    assert json.loads((tmp_path / "report.json").read_text())["overall"] == report["overall"]
    printed = capsys.readouterr().out
    assert "direction" in printed and "accuracy" in printed


def test_evaluate_refuses_a_video_generator(capsys):
    with pytest.raises(SystemExit):
        evaluate.main(["--model", "toy-t2v", "--clips", "1"])
    assert "not a video-QA model" in capsys.readouterr().err


def test_install_copies_a_saved_model(tmp_path):
    mmcache.pipelines.load("tiny:vlm", device="cpu").save_pretrained(tmp_path / "export")
    target = install.install(tmp_path / "export", models_dir=tmp_path / "models")
    assert target == tmp_path / "models" / "toy-vlm" and (target / "model.safetensors").is_file()
    with pytest.raises(FileNotFoundError, match="no saved video-QA model"):
        install.install(tmp_path / "models")
