"""Keys and values kept across forwards, per layer: one entry per chunk, plus a compressed segment.

Keys are stored after rotary embedding, so a kept token keeps its position whatever is dropped
around it. Tensors are ``[B, H, T, D]``. A chunk entry holds every token of the chunk (the same
tokens for every head); the compressed segment holds, per head, the tokens a selection kept
(``T`` equal for every head, different tokens), standing for the chunks it absorbed.
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class KVEntry:
    keys: torch.Tensor
    values: torch.Tensor

    @property
    def tokens(self) -> int:
        return int(self.keys.shape[2])

    @property
    def nbytes(self) -> int:
        return self.keys.numel() * self.keys.element_size() + self.values.numel() * self.values.element_size()


class LayerKV:
    """The cached K/V of one attention layer (for one CFG branch)."""

    def __init__(self) -> None:
        self.chunks: dict[int, KVEntry] = {}
        self.compressed: KVEntry | None = None
        self.compressed_chunks: set[int] = set()

    def put(self, chunk: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        self.chunks[chunk] = KVEntry(keys, values)

    def has(self, chunk: int) -> bool:
        return chunk in self.chunks or chunk in self.compressed_chunks

    def entries(self, chunks: list[int]) -> list[tuple[int, KVEntry]]:
        """(chunk, entry) in the given order; the compressed segment stands first, as chunk -1, if any of them is in it."""
        found: list[tuple[int, KVEntry]] = []
        if self.compressed is not None and any(chunk in self.compressed_chunks for chunk in chunks):
            found.append((-1, self.compressed))
        found += [(chunk, self.chunks[chunk]) for chunk in chunks if chunk in self.chunks]
        return found

    def absorb(self, chunks: list[int], kept: KVEntry) -> None:
        """Replace the compressed segment and the given chunk entries by ``kept``."""
        for chunk in chunks:
            self.chunks.pop(chunk, None)
        self.compressed_chunks |= set(chunks)
        self.compressed = kept

    @property
    def nbytes(self) -> int:
        total = sum(entry.nbytes for entry in self.chunks.values())
        return total + (self.compressed.nbytes if self.compressed is not None else 0)


class KVStore:
    """Every layer's cached K/V for every CFG branch, with the peak of the bytes held."""

    def __init__(self) -> None:
        self.layers: dict[tuple[str, int], LayerKV] = {}
        self.peak_bytes = 0

    def layer(self, branch: str, layer: int) -> LayerKV:
        return self.layers.setdefault((branch, layer), LayerKV())

    def clear(self) -> None:
        self.layers.clear()

    @property
    def nbytes(self) -> int:
        return sum(layer.nbytes for layer in self.layers.values())

    def note_peak(self) -> None:
        self.peak_bytes = max(self.peak_bytes, self.nbytes)
