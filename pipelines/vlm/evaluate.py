"""Exact-match accuracy of a video-QA model per question kind, on clips of the held-out captions.

``python -m mmcache.pipelines.vlm.evaluate --model toy-vlm --clips 200`` asks each of ``--clips`` held-out clips
all four questions (greedy answers), prints a table and writes ``report.json`` into ``--out``: accuracy per kind
and per background, and the first mistakes (caption, question, expected and given answer).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from mmcache.files import atomic_write_json

from .data import HELD_OUT_SEED, QASet, evaluation_set
from .pipeline import VideoQAPipeline
from .questions import KINDS

MISTAKES_KEPT = 50


def _share(right: int, total: int) -> dict[str, Any]:
    return {"correct": right, "total": total, "accuracy": right / total if total else None}


def accuracy(pipe: VideoQAPipeline, examples: QASet, batch_size: int = 32, progress: bool = False) -> dict[str, Any]:
    """Exact-match accuracy of ``pipe``'s greedy answers: overall, per question kind, per kind and background."""
    given: list[str] = []
    for start in tqdm(range(0, len(examples), batch_size), desc="answering", disable=not progress):
        rows = examples.rows(start, start + batch_size)
        given += pipe.answer_batch(rows.frames, rows.questions)
    return score_answers(examples, given)


def score_answers(examples: QASet, given: list[str]) -> dict[str, Any]:
    """Exact-match accuracy of the answers ``given`` to ``examples`` (in order): overall, per kind, per kind and
    background, and the first mistakes."""
    if len(given) != len(examples):
        raise ValueError(f"{len(given)} answers for {len(examples)} examples.")
    right = [answer == expected for answer, expected in zip(given, examples.answers)]
    by_kind, by_background = defaultdict(list), defaultdict(list)
    for ok, kind, caption in zip(right, examples.kinds, examples.captions):
        by_kind[kind].append(ok)
        by_background[f"{kind} / {caption.split()[-2]}"].append(ok)
    mistakes = [{"caption": caption, "question": question, "expected": expected, "answer": answer}
                for ok, caption, question, expected, answer
                in zip(right, examples.captions, examples.questions, examples.answers, given) if not ok]
    return {"overall": _share(sum(right), len(right)),
            "by_kind": {kind: _share(sum(by_kind[kind]), len(by_kind[kind])) for kind in KINDS if kind in by_kind},
            "by_kind_and_background": {key: _share(sum(oks), len(oks)) for key, oks in sorted(by_background.items())},
            "mistakes": mistakes[:MISTAKES_KEPT]}


def table(result: dict[str, Any]) -> str:
    """The per-kind accuracies as an aligned text table."""
    rows = [(kind, share) for kind, share in result["by_kind"].items()] + [("all", result["overall"])]
    lines = [f"{'question':<12}{'correct':>9}{'total':>7}{'accuracy':>10}"]
    lines += [f"{kind:<12}{share['correct']:>9}{share['total']:>7}{100 * share['accuracy']:>9.1f}%"
              for kind, share in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from ..loader import is_vision_language, load

    parser = argparse.ArgumentParser(prog="python -m mmcache.pipelines.vlm.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy-vlm", help="toy-vlm, tiny:vlm or a folder saved by the trainer")
    parser.add_argument("--clips", type=int, default=200, help="held-out clips, each asked the four questions")
    parser.add_argument("--split", choices=["held_out", "train"], default="held_out",
                        help="captions the clips show (train: the training captions, with unseen clips)")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="seed of the clips")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--out", type=Path, default=Path("runs/vlm/eval"), help="folder of report.json")
    args = parser.parse_args(argv)
    if args.clips < 1 or args.batch_size < 1:
        parser.error("--clips and --batch-size must be at least 1.")
    if not is_vision_language(args.model):
        parser.error(f"--model {args.model!r} is not a video-QA model (toy-vlm, tiny:vlm or a folder with "
                     "processor_config.json).")
    torch.set_num_threads(max(1, args.threads))
    pipe = load(args.model, device=args.device)
    processor = pipe.processor
    examples = evaluation_set(args.clips, processor.num_frames, processor.size, args.split, args.seed)
    result = accuracy(pipe, examples, args.batch_size, progress=True)
    report = {"model": args.model, "split": args.split, "seed": args.seed, "clips": args.clips,
              "num_frames": processor.num_frames, "size": processor.size, **result}
    print(table(result))
    print(f"report: {atomic_write_json(args.out / 'report.json', report)}")
    return report


if __name__ == "__main__":
    main()
