"""One answer with its costs: time to the first token (prefill), time to the whole answer, and the bytes the KV
cache holds afterwards, whatever a method stored in it (tensors of every cache layer, counted once each)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from .pipeline import VideoQAPipeline


@dataclasses.dataclass
class AnswerRun:
    """An answer and what it cost."""

    answer: str
    prefill_seconds: float  # from the start of generate to the first token's scores
    seconds: float  # the whole answer
    kv_bytes: int  # the KV cache after the answer
    prompt_tokens: int
    visual_tokens: int
    new_tokens: int


class _FirstScores(LogitsProcessor):
    """Notes when generate first asks for next-token scores: the prompt's forward (prefill) is done then."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.at is None:
            self.at = time.perf_counter()
        return scores


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [tensor for item in value for tensor in _tensors(item)]
    if isinstance(value, dict):
        return [tensor for item in value.values() for tensor in _tensors(item)]
    return []


def cache_bytes(cache: Any) -> int:
    """Bytes of the tensors held by a transformers ``Cache``'s layers (dense, quantized or a method's own)."""
    seen: dict[tuple[int, int], int] = {}
    for layer in getattr(cache, "layers", None) or []:
        for tensor in _tensors(list(vars(layer).values())):
            if tensor.numel():
                seen[(tensor.untyped_storage().data_ptr(), tensor.storage_offset())] = tensor.nbytes
    return sum(seen.values())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def measured_answer(pipe: VideoQAPipeline, frames: np.ndarray, question: str, **generate_kwargs) -> AnswerRun:
    """``pipe(frames, question)`` with its prefill time, total time and final KV-cache size."""
    inputs = pipe.inputs(frames, question)
    clock = _FirstScores()
    _sync(pipe.device)
    start = time.perf_counter()
    output = pipe.model.generate(**inputs, logits_processor=LogitsProcessorList([clock]), return_dict_in_generate=True,
                                 **generate_kwargs)
    _sync(pipe.device)
    seconds = time.perf_counter() - start
    prompt = inputs["input_ids"].shape[1]
    new_tokens = output.sequences[0, prompt:]
    answer = pipe.processor.decode(new_tokens, skip_special_tokens=True).strip()
    video_token = pipe.processor.tokenizer.video_token_id
    return AnswerRun(answer=answer, prefill_seconds=(clock.at or time.perf_counter()) - start, seconds=seconds,
                     kv_bytes=cache_bytes(output.cache), prompt_tokens=prompt,
                     visual_tokens=int((inputs["input_ids"] == video_token).sum()), new_tokens=len(new_tokens))


def fastest(runs: list[AnswerRun]) -> AnswerRun:
    """The first run with the fastest prefill and answer times over ``runs`` (a stall only ever adds time)."""
    return dataclasses.replace(runs[0], prefill_seconds=min(run.prefill_seconds for run in runs),
                               seconds=min(run.seconds for run in runs))


def fastest_answer(pipe: VideoQAPipeline, frames: np.ndarray, question: str, runs: int,
                   **generate_kwargs) -> AnswerRun:
    """``fastest`` of ``runs`` measured answers, after one untimed warm-up answer when ``runs`` > 1."""
    if runs > 1:
        measured_answer(pipe, frames, question, **generate_kwargs)
    return fastest([measured_answer(pipe, frames, question, **generate_kwargs) for _ in range(runs)])
