"""The precomputed training latents, normalised, with their tokenised captions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from .latents import load_shards, load_stats
from .text import tokenize


@dataclasses.dataclass
class LatentSet:
    """Normalised latents ``[N, C, F, h, w]`` (float32), caption ids / masks ``[N, L]``, empty-caption ids."""

    latents: torch.Tensor
    ids: torch.Tensor
    mask: torch.Tensor
    empty_ids: torch.Tensor
    empty_mask: torch.Tensor

    @classmethod
    def load(cls, folder: Path, max_frames: int | None = None) -> "LatentSet":
        raw, captions = load_shards(folder)
        if max_frames is not None:
            raw = raw[:, :, :max_frames]
        mean, std = load_stats(folder)
        m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1, 1)
        s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1, 1)
        latents = torch.from_numpy((raw.astype(np.float32) - m) / s)
        unique = sorted(set(captions))
        unique_ids, unique_mask = tokenize(unique)
        position = {caption: index for index, caption in enumerate(unique)}
        rows = torch.tensor([position[c] for c in captions])
        empty_ids, empty_mask = tokenize([""])
        return cls(latents, unique_ids[rows], unique_mask[rows], empty_ids[0], empty_mask[0])

    def __len__(self) -> int:
        return self.latents.shape[0]

    def captions_batch(self, indices: np.ndarray, drop: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids and masks of ``indices``, with the empty caption where ``drop`` (classifier-free guidance)."""
        index = torch.from_numpy(indices)
        ids, mask = self.ids[index].clone(), self.mask[index].clone()
        dropped = torch.from_numpy(drop)
        ids[dropped], mask[dropped] = self.empty_ids, self.empty_mask
        return ids, mask
