"""Where the denoising loop is: run (pipeline call), step index, number of steps, CFG branches.

A run ends when diffusers resets stateful hooks at the end of a pipeline call
(``maybe_free_model_hooks``). As safety nets for interrupted calls and for denoisers called outside
a pipeline, a new run also starts when a branch has already done every step, when the pipeline
says the step index is 0 again, or when a scalar timestep given on the CPU goes up (every supported
sampler walks the timesteps downwards). Timesteps on an accelerator are never read (reading one
would synchronise the device on every forward), nor are per-frame timesteps (``[B, F]`` of
diffusion-forcing pipelines, whose frames are at different noise levels).
"""

from __future__ import annotations

from typing import Any

import torch

from ..context import BATCHED_CONTEXT, SINGLE_BRANCH, ForwardInfo
from ..errors import ConfigError
from ..families.adapter import FamilyAdapter
from .windows import Window


def host_timestep(timestep: Any) -> float | None:
    """The timestep as a number when reading it costs nothing and it is one value, else ``None``.

    Accepts Python numbers and CPU tensors whose entries are all equal (one timestep broadcast
    over the batch); a device tensor or a per-frame / per-sample timestep gives ``None``.
    """
    if timestep is None:
        return None
    if not isinstance(timestep, torch.Tensor):
        return float(timestep)
    if timestep.device.type != "cpu" or timestep.numel() == 0:
        return None
    flat = timestep.detach().reshape(-1)
    first = flat[0]
    if flat.numel() > 1 and not bool((flat == first).all()):
        return None
    return float(first)


def guidance_active(pipeline: Any | None) -> bool | None:
    """Whether a pipeline is running classifier-free guidance now, if it says so."""
    if pipeline is None:
        return None
    flag = getattr(pipeline, "do_classifier_free_guidance", None)
    if flag is not None:
        return bool(flag)
    scale = getattr(pipeline, "_guidance_scale", None)
    return None if scale is None else float(scale) > 1.0


class RunTracker:
    """Counts denoiser forwards per branch within one pipeline call and detects call boundaries."""

    def __init__(self, adapter: FamilyAdapter, pipeline: Any | None, num_inference_steps: int | None) -> None:
        self.adapter = adapter
        self.pipeline = pipeline
        self.num_inference_steps_hint = num_inference_steps
        self.run = -1
        self.active = False
        self.num_steps: int | None = None
        self._step_counts: dict[str, int] = {}
        self._last_timestep: dict[str, float] = {}
        self._steps_seen: set[int] = set()
        self.window: Window | None = None

    def end_run(self) -> None:
        """The pipeline call is over; the next forward starts a new run."""
        self.active = False
        self.window = None

    def begin_window(self, window: Window) -> None:
        """A diffusion-forcing pipeline planned its next window: steps count from 0 again."""
        self.window = window
        self._step_counts.clear()
        self._last_timestep.clear()
        self._steps_seen.clear()
        if self.active:
            self.num_steps = window.num_iterations

    def _branches(self, context_name: str | None, batch: int) -> tuple[str, ...]:
        if context_name is None:
            return (SINGLE_BRANCH,)
        if context_name == BATCHED_CONTEXT or self.adapter.batched_cfg and context_name not in ("cond", "uncond"):
            guided = guidance_active(self.pipeline)
            order = self.adapter.batched_branch_order
            if guided is None or (guided and batch % len(order) != 0):
                return (context_name,)
            return order if guided else ("cond",)
        return (context_name,)

    def _resolve_num_steps(self, context: Any | None) -> int | None:
        if self.window is not None:
            return self.window.num_iterations
        from_context = getattr(context, "num_inference_steps", None) if context is not None else None
        if from_context:
            return int(from_context)
        scheduler = getattr(self.pipeline, "scheduler", None) if self.pipeline is not None else None
        timesteps = getattr(scheduler, "timesteps", None)
        if timesteps is not None and len(timesteps) > 0:
            return len(timesteps)
        return self.num_inference_steps_hint

    def _start_run(self, context: Any | None) -> None:
        self.run += 1
        self.active = True
        self.num_steps = self._resolve_num_steps(context)
        self._step_counts.clear()
        self._last_timestep.clear()
        self._steps_seen.clear()

    def _needs_new_run(self, key: str, context: Any | None, timestep: float | None) -> bool:
        if not self.active:
            return True
        count = self._step_counts.get(key, 0)
        if self.num_steps is not None and count >= self.num_steps:
            return True
        context_step = getattr(context, "step_index", None) if context is not None else None
        if context_step == 0 and count > 0:
            return True
        previous = self._last_timestep.get(key)
        return previous is not None and timestep is not None and timestep > previous

    def begin_forward(self, context: Any | None, hidden_states: torch.Tensor, timestep: Any) -> tuple[ForwardInfo, bool]:
        """Place one forward; returns its ``ForwardInfo`` and whether it started a new run."""
        name = getattr(context, "name", None) if context is not None else None
        branches = self._branches(name, hidden_states.shape[0])
        key = name if name is not None else SINGLE_BRANCH
        value = host_timestep(timestep)
        new_run = self._needs_new_run(key, context, value)
        if new_run:
            self._start_run(context)
        context_step = getattr(context, "step_index", None) if context is not None else None
        step = int(context_step) if context_step is not None else self._step_counts.get(key, 0)
        self._step_counts[key] = step + 1
        if value is not None:
            self._last_timestep[key] = value
        else:
            self._last_timestep.pop(key, None)
        first = step not in self._steps_seen
        self._steps_seen.add(step)
        leader = branches.index("cond") if "cond" in branches else 0
        window = self.window.index if self.window is not None else 0
        info = ForwardInfo(self.run, step, self.num_steps, branches, leader, key, first, window)
        return info, new_run

    def require_num_steps(self, method: str) -> int:
        """The number of steps, or a clear error saying how to provide it."""
        if self.num_steps is None:
            raise ConfigError(
                f"{method} needs the number of denoising steps, which mmcache could not determine: enable it on the "
                "pipeline (mmcache.enable(pipe, ...)) rather than on its denoiser, or pass "
                "num_inference_steps=... to mmcache.enable."
            )
        return self.num_steps
