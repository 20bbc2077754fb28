"""Record full-compute denoising trajectories (input latent and output at every step, per branch)."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import torch

from ..api import disable, enable_policy
from ..context import DenoiserCall, state_name
from ..methods.base import Decision, StepPolicy
from ..runtime.tracker import RunTracker


@dataclasses.dataclass
class Trajectory:
    """One full-compute generation: per branch state, the latent and the denoiser output of each step."""

    prompt: str
    seed: int
    num_steps: int
    inputs: dict[str, dict[int, torch.Tensor]]
    outputs: dict[str, dict[int, torch.Tensor]]

    def has(self, key: str, *steps: int) -> bool:
        """Whether branch state ``key`` was evaluated at every given step (Wan 2.2's experts split the steps)."""
        return all(step in self.inputs.get(key, {}) for step in steps)

    def residual(self, key: str, step: int) -> torch.Tensor:
        """r = v - x, the quantity a cache reuses."""
        return self.outputs[key][step] - self.inputs[key][step]


class TrajectoryRecorder(StepPolicy):
    """A step policy that computes every call and keeps copies of its inputs and outputs on the CPU."""

    method = "record"

    def __init__(self, tracker: RunTracker, storage_dtype: torch.dtype = torch.float32) -> None:
        self.storage_dtype = storage_dtype
        self.latent_shapes: dict[str, tuple[int, ...]] = {}
        super().__init__(tracker)

    def start_run(self) -> None:
        self.inputs: dict[str, dict[int, torch.Tensor]] = {}
        self.outputs: dict[str, dict[int, torch.Tensor]] = {}

    def decide(self, call: DenoiserCall) -> Decision:
        return Decision(True, "calibration run computes every step")

    def reused_output(self, call: DenoiserCall) -> torch.Tensor:
        raise AssertionError("the trajectory recorder never reuses")

    def after_compute(self, call: DenoiserCall, output: torch.Tensor) -> None:
        key = state_name(call.state_key)
        self.latent_shapes[key] = tuple(call.latent.shape)
        step = call.info.step
        self.inputs.setdefault(key, {})[step] = call.latent.detach().to("cpu", self.storage_dtype, copy=True)
        self.outputs.setdefault(key, {})[step] = output.detach().to("cpu", self.storage_dtype, copy=True)


def record_trajectories(pipe: Any, prompts: Iterable[str], seeds: Iterable[int], generation_kwargs: dict[str, Any],
                        storage_dtype: torch.dtype = torch.float32, progress: bool = True,
                        ) -> tuple[list[Trajectory], TrajectoryRecorder]:
    """Run ``pipe`` on every prompt × seed with every step computed; return the trajectories."""
    from tqdm.auto import tqdm

    jobs = [(prompt, seed) for prompt in prompts for seed in seeds]
    recorder_box: list[TrajectoryRecorder] = []

    def factory(tracker: RunTracker) -> TrajectoryRecorder:
        recorder_box.append(TrajectoryRecorder(tracker, storage_dtype))
        return recorder_box[0]

    enable_policy(pipe, factory)
    trajectories = []
    try:
        for prompt, seed in tqdm(jobs, desc="calibration runs", disable=not progress):
            generator = torch.Generator(device="cpu").manual_seed(int(seed))
            pipe(prompt=prompt, generator=generator, **generation_kwargs)
            recorder = recorder_box[0]
            steps = recorder.tracker.num_steps or 1 + max(max(s) for s in recorder.inputs.values())
            trajectories.append(Trajectory(prompt, int(seed), steps, recorder.inputs, recorder.outputs))
            recorder.start_run()
    finally:
        disable(pipe)
    return trajectories, recorder_box[0]
