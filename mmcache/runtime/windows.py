"""The windows of an autoregressive video call: which latent frames each iteration denoises.

An autoregressive video pipeline runs several denoising loops per call. A diffusion-forcing pipeline
(SkyReels-V2 DF) generates a long video as a sequence of windows of latent frames, in each of which
every causal block of frames has its own noise level; it plans each window with
``generate_timestep_matrix``. A chunk-by-chunk pipeline (AnyFlow FAR) denoises one chunk at a time,
each with its own scheduler loop (``scheduler.set_timesteps``): a window of one block. mmcache wraps
the planning method on the one pipeline object it is enabled on (nothing patched globally) and so
learns, before the window's first denoiser call, its frames, its block size, its prefix and, per
iteration, which blocks are denoised (active), which are finished (at timestep 0) and which have
not started.
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


def diffusion_forcing_window(index: int, args: tuple, kwargs: dict, result: Any, owner: Any) -> Window:
    """The window ``generate_timestep_matrix(num_latent_frames, step_template, base, ar_step, num_pre_ready,
    causal_block_size)`` planned."""
    names = ("num_latent_frames", "step_template", "base_num_latent_frames", "ar_step", "num_pre_ready",
             "causal_block_size")
    given = {**dict(zip(names, args)), **kwargs}
    _, step_index, update_mask, _ = result
    block = max(int(given.get("causal_block_size", 1)), 1)
    return Window(index, int(given["num_latent_frames"]), block, len(given["step_template"]),
                  (int(given.get("num_pre_ready", 0)) // block) * block, step_index.cpu(), update_mask.cpu())


def chunk_loop_window(index: int, args: tuple, kwargs: dict, result: Any, owner: Any) -> Window:
    """One chunk's denoising loop (``scheduler.set_timesteps``): a window of one block, denoised every step."""
    steps = len(owner.timesteps)
    return Window(index, 1, 1, steps, 0, torch.arange(1, steps + 1).unsqueeze(1),
                  torch.ones(steps, 1, dtype=torch.bool))


PLANNERS: dict[str, Callable[[int, tuple, dict, Any, Any], Window]] = {
    "generate_timestep_matrix": diffusion_forcing_window,
    "scheduler.set_timesteps": chunk_loop_window,
}


class WindowProbe:
    """Wraps the pipeline's planning method so that every window it plans is announced to ``on_window``.

    ``planner`` is an attribute path from the pipeline (``"generate_timestep_matrix"``,
    ``"scheduler.set_timesteps"``), a key of ``PLANNERS``.
    """

    def __init__(self, pipeline: Any, planner: str, on_window: Callable[[Window], None]) -> None:
        *path, self.method = planner.split(".")
        self.owner = pipeline
        for name in path:
            self.owner = getattr(self.owner, name)
        self.pipeline = pipeline
        self.on_window = on_window
        self.windows = 0
        build = PLANNERS[planner]
        original = getattr(self.owner, self.method)

        def planned(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self.on_window(build(self.windows, args, kwargs, result, self.owner))
            self.windows += 1
            return result

        setattr(self.owner, self.method, planned)
        setattr(pipeline, PROBED_ATTRIBUTE, self)

    def reset(self) -> None:
        """A new pipeline call: windows are numbered from 0 again."""
        self.windows = 0

    def detach(self) -> None:
        if getattr(self.pipeline, PROBED_ATTRIBUTE, None) is self:
            delattr(self.owner, self.method)  # the instance attribute; the class method shows again
            delattr(self.pipeline, PROBED_ATTRIBUTE)
