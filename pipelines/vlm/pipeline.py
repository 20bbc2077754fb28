"""``VideoQAPipeline``: a clip and a question in, a one-word answer out, by greedy ``model.generate``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from transformers import BatchFeature, Qwen2VLForConditionalGeneration
from transformers.utils import logging as transformers_logging

from .processor import ToyVLMProcessor



@contextlib.contextmanager
def no_progress_bars() -> Iterator[None]:
    """transformers' per-file progress bars off (a model of a few megabytes loads and saves at once)."""
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


class VideoQAPipeline:
    """A Qwen2-VL model and its processor. ``pipe(frames, question)`` answers about a uint8 ``(T, H, W, 3)`` clip."""

    def __init__(self, model: Qwen2VLForConditionalGeneration, processor: ToyVLMProcessor) -> None:
        self.model, self.processor = model.eval(), processor

    @classmethod
    def from_pretrained(cls, folder: str | Path, dtype: torch.dtype | None = None) -> "VideoQAPipeline":
        """The pipeline saved in ``folder`` (``config.json``, weights, ``processor_config.json``, tokenizer)."""
        kwargs = {"dtype": dtype} if dtype is not None else {}
        with no_progress_bars():
            model = Qwen2VLForConditionalGeneration.from_pretrained(str(folder), local_files_only=True, **kwargs)
        return cls(model, ToyVLMProcessor.from_pretrained(str(folder), local_files_only=True))

    def save_pretrained(self, folder: str | Path) -> None:
        """Model (safetensors, generation config) and processor (tokenizer included) into ``folder``."""
        with no_progress_bars():
            self.model.save_pretrained(str(folder))
        self.processor.save_pretrained(str(folder))

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "VideoQAPipeline":
        self.model.to(device=device, dtype=dtype)
        return self

    @property
    def device(self) -> torch.device:
        return self.model.device

    def inputs(self, frames: np.ndarray | list[np.ndarray], questions: str | list[str]) -> BatchFeature:
        """The model's inputs for one clip and question (or lists of them), on the model's device and dtype."""
        batch = self.processor(text=questions, videos=frames)
        batch["pixel_values_videos"] = batch["pixel_values_videos"].to(self.model.dtype)
        return batch.to(self.device)

    @torch.no_grad()
    def answer_batch(self, frames: list[np.ndarray], questions: list[str], **generate_kwargs) -> list[str]:
        """Greedy answers to one question per clip."""
        inputs = self.inputs(frames, questions)
        generated = self.model.generate(**inputs, **generate_kwargs)
        new_tokens = generated[:, inputs["input_ids"].shape[1]:]
        return [text.strip() for text in self.processor.batch_decode(new_tokens, skip_special_tokens=True)]

    def __call__(self, frames: np.ndarray, question: str, **generate_kwargs) -> str:
        """The answer to ``question`` about ``frames`` (uint8 ``(T, H, W, 3)``), e.g. ``"red"``."""
        if not isinstance(question, str) or not question.strip():
            raise ValueError("The question is empty; ask e.g. 'what colour is the shape?'.")
        return self.answer_batch([frames], [question], **generate_kwargs)[0]
