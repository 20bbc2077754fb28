"""One Video QA request: a clip and a question answered by the plain model and with a KV method, compared.

Independent of Gradio, so it can be used and tested on its own; ``video_qa_tab.py`` wraps it in the UI.
Each side is timed ``timing_runs`` times after an untimed warm-up answer and its fastest run counts
(``pipelines.vlm.measure.fastest_answer``, as ``mmcache ask --compare`` does). The method's handle says which
prompt tokens each layer kept (``KVCacheHandle.kept_prompt_positions``); the visual tokens' share is drawn over
the clip (``kept_heatmap``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import mmcache
from mmcache.kv.kept_positions import kept_share
from mmcache.methods.base import MethodConfig
from mmcache.pipelines.vlm.measure import AnswerRun, fastest_answer

from .kept_heatmap import group_frames, save_heatmap_png, visual_token_grid
from .state import TimedRunner
from .summary import config_dict
from .video_qa_checks import ClipRequest, check_question_words
from .validation import DemoInputError

# progress(phase): "loading", "plain model", "method" or "drawing"
VideoQAProgress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class VideoQAResult:
    """The two answers, the comparison (Markdown), the heat map PNG and every number (JSON-ready)."""

    plain_answer: str
    method_answer: str
    summary: str
    heatmap: Path
    metrics: dict[str, Any]


def read_clip(clip: ClipRequest, processor: Any) -> tuple[np.ndarray, str]:
    """The first ``processor.num_frames`` frames of the clip and a line saying where they came from."""
    from mmcache.pipelines.toy.data import render_clip, sample_params
    from mmcache.video import read_mp4

    frames = processor.num_frames
    if clip.caption is not None:
        rendered = render_clip(clip.caption, sample_params(np.random.default_rng(clip.seed)), frames, processor.size)
        return rendered, f'rendered from "{clip.caption.text}" (seed {clip.seed})'
    try:
        video = read_mp4(clip.video)
    except (OSError, RuntimeError, ValueError, StopIteration) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DemoInputError(f"The uploaded file could not be decoded as a video ({reason}); upload an MP4 or WebM "
                             "clip.") from None
    if len(video) == 0:
        raise DemoInputError("The uploaded video has no frames; upload another clip.")
    used = video[:frames]
    return used, f"{clip.video.name}: frames 1-{len(used)} of {len(video)}, {video.shape[2]}x{video.shape[1]}"


def _side(run: AnswerRun, prompt_kept: float) -> dict[str, Any]:
    return {**dataclasses.asdict(run), "prompt_kept_fraction": prompt_kept}


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def video_qa_markdown(metrics: dict[str, Any]) -> str:
    """The side-by-side table of both answers and their costs, and what the heat map shows."""
    plain, method = metrics["plain"], metrics["method"]
    name = metrics["config"]["method"]
    groups, rows, cols = metrics["visual_grid"]
    rows_text = [
        ("answer", plain["answer"] or "(empty)", method["answer"] or "(empty)"),
        ("KV cache after answering", _kib(plain["kv_bytes"]), _kib(method["kv_bytes"])),
        ("prompt KV kept", f"{plain['prompt_kept_fraction']:.1%}", f"{method['prompt_kept_fraction']:.1%}"),
        ("prefill", f"{1000 * plain['prefill_seconds']:.1f} ms", f"{1000 * method['prefill_seconds']:.1f} ms"),
    ]
    speedup = plain["prefill_seconds"] / method["prefill_seconds"] if method["prefill_seconds"] else float("inf")
    lines = [f"**Clip:** {metrics['clip']} · **question:** {metrics['question']}", "",
             f"| | plain model | {name} |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows_text), "",
             f"Answers {'agree' if metrics['answers_agree'] else 'differ'} · prefill {speedup:.2f}× · KV cache "
             f"{method['kv_bytes'] / max(1, plain['kv_bytes']):.2f}× the plain model's (fastest of "
             f"{metrics['timing_runs']} runs each).", "",
             f"**Kept visual tokens:** {metrics['visual_kept_share']:.1%} on average over layers"
             f"{' × heads' if metrics['selection_heads'] > 1 else ''}. The heat map has one panel per "
             f"{metrics['temporal_patch_size']} frames ({groups} panels, {rows}×{cols} tokens each, left to right in "
             "time): dark where every layer dropped the token, light yellow where every layer kept it."]
    if name == "zipvl" and not metrics["config"].get("drop_unimportant"):
        lines += ["", "ZipVL quantizes the tokens it finds unimportant instead of dropping them (`drop_unimportant` "
                      "off), so every token counts as kept."]
    return "\n".join(lines)


class VideoQARunner(TimedRunner):
    """Answers on cached video-QA models; safe to call from several threads (one request per model at a time)."""

    def run(self, model: str, clip: ClipRequest, question: str, config: MethodConfig,
            progress: VideoQAProgress | None = None) -> VideoQAResult:
        """Both answers to ``question`` about ``clip`` on ``model``, their costs and the kept-token heat map.

        Raises ``DemoInputError`` for a question with words the model does not know or a clip that cannot be
        read, and whatever the method raises for settings the model cannot take (``ConfigError``).
        """
        progress = progress or (lambda _phase: None)
        started = time.perf_counter()
        loaded = self.loaded(model, progress)
        pipe = loaded.pipe
        check_question_words(question, pipe.processor, model)
        frames, origin = read_clip(clip, pipe.processor)
        with loaded.lock:
            progress("plain model")
            plain = fastest_answer(pipe, frames, question, self.timing_runs)
            progress("method")
            with mmcache.enabled(pipe.model, config) as handle:
                answered = fastest_answer(pipe, frames, question, self.timing_runs)
            stats, kept = handle.stats(), handle.kept_prompt_positions()
        progress("drawing")
        processor = pipe.processor
        prompt = processor(text=question, videos=frames)
        grid_thw = tuple(int(value) for value in prompt["video_grid_thw"][0])
        share = kept_share(kept)[0].numpy()
        grid = visual_token_grid(share, prompt["input_ids"][0].numpy(), processor.tokenizer.video_token_id, grid_thw,
                                 processor.merge_size)
        pictures = group_frames(frames, grid.shape[0], processor.temporal_patch_size, processor.size)
        heatmap = save_heatmap_png(grid, pictures, self.outputs.new_run() / f"kept-{config.method}.png")
        metrics = {
            "model": model, "config": config_dict(config), "question": question, "clip": origin,
            "frames": int(len(frames)), "timing_runs": self.timing_runs,
            "plain": _side(plain, 1.0), "method": _side(answered, stats.prompt_kept_fraction),
            "answers_agree": plain.answer == answered.answer,
            "kv_bytes_held": stats.kv_bytes_held, "kv_bytes_full": stats.kv_bytes_full,
            "prefill_flops_saved": stats.prefill_flops_saved,
            "visual_grid": list(grid.shape), "temporal_patch_size": int(processor.temporal_patch_size),
            "selection_heads": max(layer.heads for layer in kept),
            "visual_kept_share": float(grid.mean()), "visual_kept_share_grid": grid.round(4).tolist(),
            "layers_kept": [layer.prefill_kept for layer in stats.layers],
        }
        metrics["request_seconds"] = time.perf_counter() - started
        return VideoQAResult(plain.answer, answered.answer, video_qa_markdown(metrics), heatmap, metrics)
