"""The windows of a diffusion-forcing pipeline call: which latent frames each iteration denoises.

A diffusion-forcing pipeline (SkyReels-V2 DF) generates a long video as a sequence of windows of
latent frames, each with its own denoising loop in which every causal block of frames has its own
noise level. The pipeline plans each window with ``generate_timestep_matrix``; mmcache wraps that
method on the one pipeline object it is enabled on (nothing patched globally) and so learns, before
the window's first denoiser call, its frames, its block size, its prefix and, per iteration, which
blocks are denoised (active), which are finished (at timestep 0) and which have not started.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch

PROBED_ATTRIBUTE = "_mmcache_window_probe"


@dataclasses.dataclass(frozen=True)
class Window:
    """One window's plan (the outputs of ``generate_timestep_matrix`` for it).

    ``step_index[i, f]`` is frame f's position in the extended step template at iteration i:
    0 not started (timestep 999, pure noise), 1..N denoising steps, N + 1 finished (timestep 0).
    ``update_mask[i, f]``: frame f is denoised (stepped by its scheduler) at iteration i.
    """

    index: int
    num_frames: int
    block_size: int
    num_steps: int
    prefix_frames: int
    step_index: torch.Tensor
    update_mask: torch.Tensor

    @property
    def num_iterations(self) -> int:
        return int(self.update_mask.shape[0])

    @property
    def num_blocks(self) -> int:
        return self.num_frames // self.block_size

    def block_frames(self, block: int) -> tuple[int, int]:
        return block * self.block_size, (block + 1) * self.block_size

    def _per_block(self, row: torch.Tensor) -> list:
        return row[:: self.block_size][: self.num_blocks].tolist()

    def active_blocks(self, iteration: int) -> list[int]:
        """Blocks denoised at this iteration (their outputs are used)."""
        return [b for b, on in enumerate(self._per_block(self.update_mask[iteration])) if on]

    def finished_blocks(self, iteration: int) -> list[int]:
        """Blocks at timestep 0 at this iteration: the prefix and the blocks done denoising."""
        done = self.num_steps + 1
        return [b for b, value in enumerate(self._per_block(self.step_index[iteration])) if value >= done]

    def waiting_blocks(self, iteration: int) -> list[int]:
        """Blocks not started yet at this iteration (pure noise)."""
        return [b for b, value in enumerate(self._per_block(self.step_index[iteration])) if value == 0]

    def block_step(self, iteration: int, block: int) -> int:
        """How many denoising steps the block has taken before this iteration (0-based step of an active block)."""
        return int(self.step_index[iteration, block * self.block_size]) - 1


class WindowProbe:
    """Wraps ``pipeline.<method>`` so that every window it plans is announced to ``on_window``."""

    def __init__(self, pipeline: Any, method: str, on_window: Callable[[Window], None]) -> None:
        self.pipeline = pipeline
        self.method = method
        self.on_window = on_window
        self.windows = 0
        original = getattr(pipeline, method)

        def planned(num_latent_frames: int, step_template: torch.Tensor, base_num_latent_frames: int,
                    ar_step: int = 5, num_pre_ready: int = 0, causal_block_size: int = 1, *args: Any,
                    **kwargs: Any) -> Any:
            result = original(num_latent_frames, step_template, base_num_latent_frames, ar_step, num_pre_ready,
                              causal_block_size, *args, **kwargs)
            _, step_index, update_mask, _ = result
            block = max(int(causal_block_size), 1)
            self.on_window(Window(self.windows, int(num_latent_frames), block, len(step_template),
                                  (int(num_pre_ready) // block) * block, step_index.cpu(), update_mask.cpu()))
            self.windows += 1
            return result

        setattr(pipeline, method, planned)
        setattr(pipeline, PROBED_ATTRIBUTE, self)

    def reset(self) -> None:
        """A new pipeline call: windows are numbered from 0 again."""
        self.windows = 0

    def detach(self) -> None:
        if getattr(self.pipeline, PROBED_ATTRIBUTE, None) is self:
            delattr(self.pipeline, self.method)  # the instance attribute; the class method shows again
            delattr(self.pipeline, PROBED_ATTRIBUTE)
