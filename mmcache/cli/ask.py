"""Ask a video-QA model (toy-vlm) a question about a clip, optionally with a KV/token method enabled.

The clip is a video file (--video; its first --frames frames, resized to the model's frame size) or one the
shapes world renders from a caption (--frames-from-caption "a red circle moving left on a black background").
--compare answers once without the method and once with it, and prints both answers, the prefill time (to the
first token) and the KV-cache bytes after answering, side by side; each side is timed --timing-runs times after
a warm-up, and its fastest run counts. Every flag is checked before the model loads.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Iterator

from ..files import atomic_write_json
from ..validation.arg_types import DTYPES, non_empty_text, positive_int, seed_int
from ..validation.checks import InputError, check_device, check_output_file
from .method_args import NO_METHOD, add_method_arguments, configs_from_args

DEFAULT_TIMING_RUNS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="toy-vlm, tiny:vlm or a folder saved by `python -m mmcache.pipelines.vlm.train` "
                             "(default: toy-vlm, or tiny:vlm when its weights are absent)")
    clip = parser.add_mutually_exclusive_group(required=True)
    clip.add_argument("--video", help="the clip: a video file (e.g. .mp4)")
    clip.add_argument("--frames-from-caption", metavar="CAPTION",
                      help="render the clip from a caption of the shapes world instead, e.g. "
                           "'a red circle moving left on a black background'")
    parser.add_argument("--question", required=True, type=non_empty_text,
                        help="e.g. 'what colour is the shape?', 'what shape is it?', 'which way does it move?', "
                             "'what colour is the background?'")
    parser.add_argument("--frames", type=positive_int, default=None,
                        help="frames of the clip to use (the first ones; default: the length the model was trained "
                             "on)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="with --frames-from-caption: the seed of what the caption leaves open (position, speed, "
                             "size)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=None, help="default: the model's")
    parser.add_argument("--compare", action="store_true",
                        help="also answer without the method: answers, prefill time and KV bytes side by side")
    parser.add_argument("--timing-runs", type=positive_int, default=None, metavar="N",
                        help=f"with --compare, time each side N times and keep its fastest run (default: "
                             f"{DEFAULT_TIMING_RUNS})")
    parser.add_argument("--stats-json", default=None, help="write the answers and their costs as JSON here")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="default: the checkpoint's")
    add_method_arguments(parser, default=NO_METHOD)


def _check(args: argparse.Namespace) -> str:
    """Everything about the flags that can be known without loading the model; returns the model name."""
    from mmcache.pipelines.loader import available_vlms, model_source
    from mmcache.pipelines.toy.captions import parse_caption

    model = args.model or available_vlms()[0]
    if model_source(model) != "vlm":
        raise InputError(f"--model {model} generates video; `mmcache ask` needs a video-QA model: "
                         f"{', '.join(available_vlms())} or a folder saved by `python -m mmcache.pipelines.vlm.train`.")
    if args.video is not None:
        video = Path(args.video)
        if not video.is_file():
            raise InputError(f"--video {args.video!r} is {'a folder' if video.is_dir() else 'not a file'}; give a "
                             "video file, or render a clip with --frames-from-caption.")
    elif args.frames_from_caption is not None:
        try:
            parse_caption(args.frames_from_caption)
        except ValueError as error:
            raise InputError(f"--frames-from-caption: {error}") from None
    if args.timing_runs is not None and not args.compare:
        raise InputError("--timing-runs applies only with --compare; add --compare or leave --timing-runs out.")
    if args.stats_json is not None:
        check_output_file("--stats-json", args.stats_json, ".json")
    check_device("--device", args.device)
    return model


def _refuse_step_methods(configs: list) -> None:
    """Step methods skip denoising steps, which a video-QA model does not have."""
    from mmcache.methods.base import registered_methods

    for config in configs:
        if config.role == "step":
            others = sorted(name for name, cls in registered_methods().items() if cls.role != "step")
            raise InputError(f"--method {config.method} skips denoising steps, and a video-QA model has none; choose "
                             f"a method that works inside the model's forward ({', '.join(others)}).")


def _read_video(path: str) -> Any:
    from mmcache.video import read_mp4

    try:
        return read_mp4(path)
    except (OSError, RuntimeError, ValueError, StopIteration) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"--video {path!r} could not be decoded as a video ({reason}).") from None


def _clip(args: argparse.Namespace, video: Any, processor: Any) -> tuple[Any, str]:
    """The frames to ask about and a line saying where they came from."""
    import numpy as np

    from mmcache.pipelines.toy.captions import parse_caption
    from mmcache.pipelines.toy.data import render_clip, sample_params

    frames = args.frames or processor.num_frames
    if video is None:
        spec = parse_caption(args.frames_from_caption)
        clip = render_clip(spec, sample_params(np.random.default_rng(args.seed)), frames, processor.size)
        return clip, f'rendered from "{spec.text}" (seed {args.seed})'
    used = video[:frames]
    return used, f"{args.video}: frames 1-{len(used)} of {len(video)}, {video.shape[2]}x{video.shape[1]}"


@contextlib.contextmanager
def _methods(pipe: Any, configs: list) -> Iterator[Any]:
    """The methods enabled on the pipeline's model for the block (the handle; ``None`` without methods)."""
    import mmcache

    if not configs:
        yield None
        return
    handle = mmcache.enable(pipe.model, *configs)
    try:
        yield handle
    finally:
        if handle.active:
            handle.disable()


def _answer(pipe: Any, frames: Any, question: str, configs: list, runs: int, generate: dict) -> tuple[Any, Any]:
    """The fastest of ``runs`` measured answers (after a warm-up when ``runs`` > 1) and the method's stats."""
    from mmcache.pipelines.vlm.measure import fastest_answer

    with _methods(pipe, configs) as handle:
        answer = fastest_answer(pipe, frames, question, runs, **generate)
        stats = handle.stats() if handle is not None else None
    return answer, stats


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def _table(columns: dict[str, Any]) -> str:
    """Answers and costs of each side in aligned columns, with the method's ratios to the baseline."""
    names = list(columns)
    rows = [("answer", [run.answer or "(empty)" for run in columns.values()]),
            ("prefill", [f"{1000 * run.prefill_seconds:.1f} ms" for run in columns.values()]),
            ("answer time", [f"{1000 * run.seconds:.1f} ms" for run in columns.values()]),
            ("KV cache", [_kib(run.kv_bytes) for run in columns.values()])]
    width = max(14, *(len(name) + 2 for name in names))
    lines = [f"{'':<14}" + "".join(f"{name:>{width}}" for name in names)]
    lines += [f"{label:<14}" + "".join(f"{value:>{width}}" for value in values) for label, values in rows]
    if len(columns) == 2:
        base, other = columns.values()
        ratio = base.prefill_seconds / other.prefill_seconds if other.prefill_seconds else float("inf")
        lines.append(f"prefill speedup {ratio:.2f}x, KV cache {other.kv_bytes / max(1, base.kv_bytes):.2f}x the "
                     f"baseline's, answers {'agree' if base.answer == other.answer else 'differ'}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from mmcache.pipelines.loader import load, method_preset
    from mmcache.pipelines.vlm.questions import QUESTIONS

    model = _check(args)
    configs = configs_from_args(args, method_preset(model, args.method))
    if args.compare and not configs:
        raise InputError("--compare compares a method with the plain model; choose one with --method.")
    _refuse_step_methods(configs)
    video = _read_video(args.video) if args.video is not None else None
    pipe = load(model, device=args.device, dtype=args.dtype)
    unknown = pipe.processor.unknown_words(args.question)
    if unknown:
        raise InputError(f"--question: {model} does not know the word(s) {', '.join(map(repr, unknown))}; it was "
                         f"trained on: {' / '.join(QUESTIONS.values())}")
    frames, origin = _clip(args, video, pipe.processor)
    generate = {"max_new_tokens": args.max_new_tokens} if args.max_new_tokens else {}
    method = configs[0].method if configs else NO_METHOD
    visual = pipe.processor.video_tokens(len(frames))
    print(f"model {model} | method {method} | clip {origin} | {visual} visual tokens")
    print(f"question: {args.question}")
    runs = (args.timing_runs or DEFAULT_TIMING_RUNS) if args.compare else 1
    sides: dict[str, Any] = {}
    if args.compare:
        sides["baseline"], _ = _answer(pipe, frames, args.question, [], runs, generate)
    sides[method], stats = _answer(pipe, frames, args.question, configs, runs, generate)
    if args.compare:
        print(_table(sides))
    else:
        result = sides[method]
        print(f"answer: {result.answer or '(empty)'}")
        print(f"prefill {1000 * result.prefill_seconds:.1f} ms, answer {1000 * result.seconds:.1f} ms, "
              f"KV cache {_kib(result.kv_bytes)} ({result.prompt_tokens} prompt tokens)")
    if stats is not None:
        print(stats)
    if args.stats_json:
        report = {"model": model, "question": args.question, "clip": origin, "frames": len(frames),
                  "configs": [config.to_dict() for config in configs], "timing_runs": runs,
                  "answers": {name: dataclasses.asdict(result) for name, result in sides.items()},
                  "method_stats": _stats_dict(stats)}
        atomic_write_json(args.stats_json, report)
        print(f"wrote {args.stats_json}")
    return 0


def _stats_dict(stats: Any) -> Any:
    if stats is None:
        return None
    as_dict = getattr(stats, "as_dict", None)
    return as_dict() if callable(as_dict) else str(stats)

