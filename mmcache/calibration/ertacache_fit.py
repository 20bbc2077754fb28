"""Fit ERTACache's offline terms from full-compute trajectories.

* Residual profiling: ``relative_cache_errors`` gives, for every pair of steps j < i, the mean
  relative L1 error ||r_j - r_i||_1 / ||r_i||_1 of reusing step j's residual r = v - x at step i
  (averaged over calibration prompts and branches); ``greedy_reuse_schedule`` walks the steps and
  reuses while that error stays below the threshold, refreshing the cache otherwise.
* Residual linearization: on each reused step the error of the cached prediction
  eps = v_tilde - v (v_tilde = x_i + r_j) is fitted by least squares as an affine function of
  v_tilde, per latent channel (or one scalar pair per step), per branch.
* Timestep adjustment: phi_i = clip(1 - ||v_hat_i - v_i||_1 / ||v_i||_1, 0, 1), averaged over
  prompts and branches, where v_hat is the prediction actually used on that step: fitted once on
  the rectified prediction and once on plain reuse, so that a run without rectification gets phi
  of its own prediction.
"""

from __future__ import annotations

from typing import Literal

import torch

from ..methods.base import mean_abs
from ..methods.ertacache import apply_rectification
from .recording import Trajectory

Granularity = Literal["channel", "scalar"]


def _mean_abs(tensor: torch.Tensor) -> float:
    return float(mean_abs(tensor, torch.float64))


def relative_cache_errors(trajectories: list[Trajectory]) -> torch.Tensor:
    """``E[j, i]`` = mean over prompts and branches of ||r_j - r_i||_1 / ||r_i||_1.

    Pairs no branch state saw both of (e.g. across Wan 2.2's two experts) are ``inf``: a residual
    cannot be reused across denoisers. Entries with ``j >= i`` are unused.
    """
    steps = trajectories[0].num_steps
    total = torch.zeros(steps, steps, dtype=torch.float64)
    count = torch.zeros(steps, steps, dtype=torch.float64)
    for trajectory in trajectories:
        for key, seen in trajectory.inputs.items():
            residuals = {i: trajectory.residual(key, i).double() for i in seen}
            for i in residuals:
                norm = max(_mean_abs(residuals[i]), 1e-12)
                for j in residuals:
                    if j < i:
                        total[j, i] += _mean_abs(residuals[j] - residuals[i]) / norm
                        count[j, i] += 1
    errors = total / count.clamp_min(1)
    errors[count == 0] = float("inf")
    return errors


def greedy_reuse_schedule(errors: torch.Tensor, threshold: float, final_steps: int = 1) -> list[int]:
    """Steps to reuse: walk forward, reuse while E[last refresh, i] < threshold, else refresh at i.

    Step 0 has nothing to reuse; the last ``final_steps`` steps are always computed.
    """
    steps = errors.shape[0]
    schedule, refresh = [], 0
    for i in range(1, steps - final_steps):
        if float(errors[refresh, i]) < threshold:
            schedule.append(i)
        else:
            refresh = i
    return schedule


def refresh_points(schedule: list[int], steps: int) -> dict[int, int]:
    """For each reused step, the computed step whose residual it reuses."""
    reused, last, mapping = set(schedule), 0, {}
    for i in range(steps):
        if i in reused:
            mapping[i] = last
        else:
            last = i
    return mapping


def _channel_view(tensor: torch.Tensor, channel_dim: int) -> torch.Tensor:
    """``[C, everything else]``."""
    return tensor.movedim(channel_dim, 0).reshape(tensor.shape[channel_dim], -1)


def fit_rectification(trajectories: list[Trajectory], schedule: list[int], channel_dim: int,
                      granularity: Granularity = "channel") -> dict[str, dict[int, tuple[list[float], list[float]]]]:
    """Least-squares ``eps ≈ K * v_tilde + B`` per branch and reused step; returns ``{key: {step: (K, B)}}``."""
    steps = trajectories[0].num_steps
    sources = refresh_points(schedule, steps)
    fitted: dict[str, dict[int, tuple[list[float], list[float]]]] = {}
    for key in trajectories[0].inputs:
        fitted[key] = {}
        for step, source in sources.items():
            sums = None
            for trajectory in trajectories:
                if not trajectory.has(key, step, source):
                    continue
                x = trajectory.inputs[key][step].double()
                predicted = x + trajectory.residual(key, source).double()
                error = predicted - trajectory.outputs[key][step].double()
                p, e = _channel_view(predicted, channel_dim), _channel_view(error, channel_dim)
                if granularity == "scalar":
                    p, e = p.reshape(1, -1), e.reshape(1, -1)
                part = torch.stack([p.new_full((p.shape[0],), p.shape[1]), p.sum(1), e.sum(1), (p * p).sum(1),
                                    (p * e).sum(1)])
                sums = part if sums is None else sums + part
            if sums is None:
                continue
            n, sp, se, spp, spe = sums
            variance = spp / n - (sp / n) ** 2
            covariance = spe / n - (sp / n) * (se / n)
            slope = torch.where(variance > 1e-12, covariance / variance.clamp_min(1e-12), torch.zeros_like(variance))
            intercept = se / n - slope * sp / n
            fitted[key][step] = (slope.tolist(), intercept.tolist())
    return fitted


def fit_time_scale(trajectories: list[Trajectory], schedule: list[int], channel_dim: int,
                   rectification: dict[str, dict[int, tuple[list[float], list[float]]]] | None) -> dict[int, float]:
    """phi per reused step (see the module docstring)."""
    steps = trajectories[0].num_steps
    sources = refresh_points(schedule, steps)
    phi: dict[int, float] = {}
    for step, source in sources.items():
        ratios = []
        for trajectory in trajectories:
            for key in trajectory.inputs:
                if not trajectory.has(key, step, source):
                    continue
                truth = trajectory.outputs[key][step].double()
                predicted = trajectory.inputs[key][step].double() + trajectory.residual(key, source).double()
                if rectification is not None:
                    slope, intercept = rectification[key][step]
                    predicted = apply_rectification(predicted, torch.tensor(slope, dtype=torch.float64),
                                                    torch.tensor(intercept, dtype=torch.float64), channel_dim)
                ratios.append(_mean_abs(predicted - truth) / max(_mean_abs(truth), 1e-12))
        if ratios:
            phi[step] = min(1.0, max(0.0, 1.0 - sum(ratios) / len(ratios)))
    return phi
