"""What one denoiser forward is: its place in the run (step, CFG branch) and how methods see it.

This is the vocabulary shared by hooks, methods and calibration:

* a **run** is one pipeline call; a **step** one iteration of its denoising loop;
* a **branch** is one classifier-free-guidance branch (``cond``, ``uncond``, or ``main`` without
  CFG); pipelines that batch both branches into one forward carry several;
* a **forward** is one call of the denoiser module, described by ``ForwardInfo``; a cache method
  sees it as a ``DenoiserCall`` (the info plus the latent it refers to).

A pipeline call may run several denoising loops: a diffusion-forcing pipeline generates a long
video window after window; ``ForwardInfo.window`` numbers them and ``step`` restarts in each.
Chunk-, scale- and phase-level methods place a forward further with ``chunk`` (the chunk of frames
of an autoregressive video being denoised), ``scale`` (the scale of a next-scale prediction model)
and ``phase`` (``"prefill"`` or ``"decode"`` of a language model).
"""

from __future__ import annotations

import dataclasses

import torch

SINGLE_BRANCH = "main"
BATCHED_CONTEXT = "cond_uncond"


@dataclasses.dataclass(frozen=True)
class ForwardInfo:
    """Position of one denoiser forward in its run.

    ``branches`` names the CFG branch of each equal part of the batch (one entry unless the
    pipeline batches cond and uncond); ``leader`` is the index of the part whose values decide for
    the whole forward; ``state_key`` identifies the per-branch state of a cache method.
    """

    run: int
    step: int
    num_steps: int | None
    branches: tuple[str, ...]
    leader: int
    state_key: str
    first_at_step: bool
    window: int = 0
    chunk: int | None = None
    scale: int | None = None
    phase: str | None = None

    def branch_part(self, tensor: torch.Tensor, index: int) -> torch.Tensor:
        """The part of a batched tensor that belongs to branch ``index``."""
        if len(self.branches) == 1:
            return tensor
        return tensor.chunk(len(self.branches), dim=0)[index]

    @property
    def is_last_step(self) -> bool:
        return self.num_steps is not None and self.step >= self.num_steps - 1


@dataclasses.dataclass(frozen=True)
class DenoiserCall:
    """One denoiser forward as a step method sees it.

    ``latent`` is the noisy latent the output refers to (``hidden_states`` without image-to-video
    condition channels); ``denoiser`` indexes the pipeline's denoisers (Wan 2.2 has two experts).
    ``kwargs`` are the forward's keyword arguments, for methods that need more than the latent.
    """

    info: ForwardInfo
    denoiser: int
    latent: torch.Tensor
    kwargs: dict

    @property
    def state_key(self) -> tuple[int, str]:
        return (self.denoiser, self.info.state_key)

    def leader(self, tensor: torch.Tensor) -> torch.Tensor:
        """The part of the batch of the branch that decides for this forward."""
        return self.info.branch_part(tensor, self.info.leader)


def state_name(state_key: tuple[int, str]) -> str:
    """A branch-state key as a string: ``"0:cond"`` (denoiser index, CFG branch or batched context)."""
    return f"{state_key[0]}:{state_key[1]}"
