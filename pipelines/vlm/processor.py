"""``ToyVLMProcessor``: a clip and a question → Qwen2-VL's inputs, with no image library beyond OpenCV.

transformers' Qwen2-VL video processor needs torchvision; this one does the same work for uint8 clips:
frames resized to ``size`` × ``size`` and scaled to [-1, 1], a last frame repeated to fill a temporal patch,
patches laid out as Qwen2-VL's patch embedding reads them (``pixel_values_videos``, ``video_grid_thw``), and
the prompt ``<|vision_start|> <|video_pad|> × N <|vision_end|> question`` with N = one token per merged patch.
It saves and loads with ``save_pretrained`` / ``from_pretrained`` (``processor_config.json`` + tokenizer).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from transformers import BatchFeature, ProcessorMixin

VIDEO_TYPE = 2  # Qwen2-VL's mm_token_type_ids: 0 text, 1 image, 2 video


class ToyVLMProcessor(ProcessorMixin):
    """Clips and questions → ``input_ids``, ``attention_mask``, ``mm_token_type_ids``, ``pixel_values_videos``,
    ``video_grid_thw``; batches are padded on the left, so every prompt ends where generation starts.

    ``num_frames`` is the clip length the model was trained on (callers cut longer clips to it); clips of other
    lengths still run.
    """

    def __init__(self, tokenizer=None, size: int = 64, patch_size: int = 4, temporal_patch_size: int = 2,
                 merge_size: int = 2, num_frames: int = 8, **kwargs) -> None:
        if size % (patch_size * merge_size):
            raise ValueError(f"size {size} must be a multiple of patch_size × merge_size ({patch_size * merge_size}).")
        self.size, self.patch_size, self.temporal_patch_size = size, patch_size, temporal_patch_size
        self.merge_size, self.num_frames = merge_size, num_frames
        super().__init__(tokenizer, **kwargs)

    def video_tokens(self, num_frames: int) -> int:
        """Visual tokens of a clip of ``num_frames`` frames (any frame size: frames are resized)."""
        groups = -(-num_frames // self.temporal_patch_size)
        return groups * (self.size // (self.patch_size * self.merge_size)) ** 2

    def unknown_words(self, text: str) -> list[str]:
        """Words of ``text`` outside the vocabulary (the model reads each as ``<unk>``)."""
        words = self.tokenizer.backend_tokenizer.normalizer.normalize_str(text).split()
        return [word for word in words if self.tokenizer.convert_tokens_to_ids(word) == self.tokenizer.unk_token_id]

    def _patches(self, frames: np.ndarray) -> tuple[torch.Tensor, list[int]]:
        check_frames(frames)
        if frames.shape[1:3] != (self.size, self.size):
            frames = np.stack([cv2.resize(frame, (self.size, self.size), interpolation=cv2.INTER_AREA)
                               for frame in frames])
        extra = -len(frames) % self.temporal_patch_size
        frames = np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)]) if extra else frames
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        p, tp, m = self.patch_size, self.temporal_patch_size, self.merge_size
        gt, gh = len(frames) // tp, self.size // p
        patches = video.reshape(gt, tp, 3, gh // m, m, p, gh // m, m, p).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
        return patches.reshape(gt * gh * gh, 3 * tp * p * p), [gt, gh, gh]

    def _prompt(self, question: str, visual_tokens: int) -> list[int]:
        tokenizer = self.tokenizer
        vision = [tokenizer.vision_start_token_id, *[tokenizer.video_token_id] * visual_tokens,
                  tokenizer.vision_end_token_id]
        return vision + tokenizer(question, add_special_tokens=False).input_ids

    def __call__(self, text: str | Sequence[str] | None = None, videos: np.ndarray | Sequence[np.ndarray] | None = None,
                 **kwargs) -> BatchFeature:
        """One prompt per clip: ``text`` and ``videos`` are one question and one uint8 ``(T, H, W, 3)`` clip, or
        lists of the same length."""
        if kwargs:
            raise TypeError(f"ToyVLMProcessor takes text and videos only, got {sorted(kwargs)}.")
        questions = [text] if isinstance(text, str) else list(text or [])
        clips = [videos] if isinstance(videos, np.ndarray) else list(videos or [])
        if not clips or len(questions) != len(clips):
            raise ValueError(f"Give one question per clip (got {len(questions)} questions, {len(clips)} clips).")
        pixels, grids = zip(*(self._patches(clip) for clip in clips))
        merge = self.merge_size ** 2
        prompts = [self._prompt(q, t * h * w // merge) for q, (t, h, w) in zip(questions, grids)]
        length = max(map(len, prompts))
        ids = torch.full((len(prompts), length), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, prompt in enumerate(prompts):
            ids[row, length - len(prompt):] = torch.tensor(prompt)
            mask[row, length - len(prompt):] = 1
        types = (ids == self.tokenizer.video_token_id).long() * VIDEO_TYPE
        return BatchFeature({"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": types,
                             "pixel_values_videos": torch.cat(pixels), "video_grid_thw": torch.tensor(grids)})


def check_frames(frames: object) -> None:
    """``frames`` is a uint8 ``(T, H, W, 3)`` array of at least one frame; else ``ValueError`` saying what is not."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        dtype = getattr(frames, "dtype", type(frames).__name__)
        raise ValueError(f"A clip must be a uint8 array of shape (frames, height, width, 3); got {dtype} {shape}.")
    if min(frames.shape[:3]) < 1:
        raise ValueError(f"A clip needs at least one frame of at least 1×1 pixels; got shape {frames.shape}.")
