"""The noise patterns toy-df trains on, above all the sampler's own asynchronous staircase."""

import numpy as np
import pytest
import torch
from diffusers import SkyReelsV2DiffusionForcingPipeline

from mmcache.pipelines.toy import train
from mmcache.pipelines.toy.configs import FLOW_SHIFT, build_scheduler
from mmcache.pipelines.toy.df_noise import (
    MAX_CONDITION_SIGMA,
    MODE_WEIGHTS,
    MODES,
    check_mode_weights,
    clip_start_offsets,
    frame_sigmas,
    sampler_sigmas,
    staircase_sigmas,
)

FRAMES = 5


def sampler_rows(steps: int, ar_step: int, prefix: int = 0, frames: int = FRAMES, block: int = 1) -> torch.Tensor:
    """The σ of every call SkyReelsV2DiffusionForcingPipeline makes for one window of ``frames`` latent frames."""
    scheduler = build_scheduler(FLOW_SHIFT)
    scheduler.set_timesteps(steps)
    _, step_index, _, _ = SkyReelsV2DiffusionForcingPipeline.generate_timestep_matrix(
        None, frames, scheduler.timesteps, frames, ar_step, prefix, block)
    return sampler_sigmas(steps, FLOW_SHIFT)[step_index]


def staircase_patterns(steps: int, lag: int, prefix: int, frames: int = FRAMES) -> set[tuple[float, ...]]:
    """Every σ pattern ``staircase_sigmas`` can draw for one schedule, lag and clean prefix."""
    levels = sampler_sigmas(steps, FLOW_SHIFT)
    moving = frames - prefix
    patterns = set()
    for first in range(1, steps + lag * (moving - 1) + 1):
        rows = [min(max(first - lag * i, 0), steps + 1) for i in range(moving)]
        patterns.add(tuple([0.0] * prefix + levels[rows].tolist()))
    return patterns


def drawn_only_from(sigmas: torch.Tensor, draws: torch.Tensor) -> bool:
    """Every σ is one of ``draws`` or a clean/conditioning level of the prefix mode."""
    return all(value in draws.tolist() or value <= MAX_CONDITION_SIGMA for value in sigmas.tolist())


def test_default_mixture_never_draws_the_staircase():
    assert MODE_WEIGHTS[MODES.index("staircase")] == 0.0
    rng = np.random.default_rng(0)
    draws = torch.linspace(0.2, 0.8, FRAMES)
    assert all(drawn_only_from(frame_sigmas(rng, draws, FRAMES)[0], draws) for _ in range(300))
    only_staircase = (0, 0, 0, 0, 1)
    assert not all(drawn_only_from(frame_sigmas(rng, draws, FRAMES, only_staircase)[0], draws) for _ in range(20))


def test_sampler_sigmas_follow_the_pipeline_step_template():
    levels = sampler_sigmas(30, FLOW_SHIFT)
    assert levels[0] == 1.0 and levels[-1] == 0.0 and len(levels) == 32
    assert torch.all(levels[1:-1] > 0) and torch.all(levels[:-1].diff() <= 0)


@pytest.mark.parametrize("ar_step", [1, 3, 5])
@pytest.mark.parametrize("prefix", [0, 2])
def test_staircase_covers_every_call_of_the_asynchronous_sampler(ar_step, prefix):
    # Rows where every frame is finished are never calls (the loop stops); all others must be drawable.
    possible = staircase_patterns(30, ar_step, prefix)
    for row in sampler_rows(30, ar_step, prefix):
        if row.max() > 0:
            assert tuple(row.tolist()) in possible


@pytest.mark.parametrize("ar_step", [1, 3, 5])
@pytest.mark.parametrize("prefix_blocks", [0, 1, 2])
def test_block_staircase_covers_every_call_of_the_block_causal_sampler(ar_step, prefix_blocks):
    """toy-ar's window: 6 latent frames in blocks of 2, each block one level, as the pipeline calls it."""
    possible = staircase_patterns(30, ar_step, prefix_blocks, frames=3)
    rows = sampler_rows(30, ar_step, 2 * prefix_blocks, frames=6, block=2)
    assert torch.equal(rows[:, ::2], rows[:, 1::2])
    for row in rows[:, ::2]:
        if row.max() > 0:
            assert tuple(row.tolist()) in possible


def test_block_levels_are_shared_within_each_block_in_every_mode():
    rng = np.random.default_rng(5)
    for mode in range(len(MODES)):
        weights = np.eye(len(MODES))[mode]
        for _ in range(50):
            sigmas, weight = frame_sigmas(rng, torch.rand(6), 6, weights, FLOW_SHIFT, block=2)
            assert sigmas.shape == weight.shape == (6,)
            assert torch.equal(sigmas[::2], sigmas[1::2]) and torch.equal(weight[::2], weight[1::2])
            assert weight[-1] > 0  # the last block always has something to learn


def test_staircase_draws_lagged_levels_with_no_loss_on_clean_frames():
    rng = np.random.default_rng(3)
    for _ in range(200):
        sigmas, weight = staircase_sigmas(rng, FRAMES, FLOW_SHIFT)
        assert sigmas.shape == weight.shape == (FRAMES,)
        assert sigmas[-1] > 0  # something is left to denoise
        assert torch.equal(weight, (sigmas > 0).float())
        moving = sigmas[(sigmas > 0).nonzero()[0, 0]:] if (sigmas > 0).any() else sigmas
        assert torch.all(moving.diff() >= 0)  # later frames are at least as noisy


def test_mode_weights_are_checked_and_normalised():
    assert check_mode_weights([1, 1, 1, 1, 0]) == (0.25, 0.25, 0.25, 0.25, 0.0)
    with pytest.raises(SystemExit, match="non-negative"):
        check_mode_weights([1, -1, 1, 1, 1])
    with pytest.raises(SystemExit, match="positive sum"):
        check_mode_weights([0, 0, 0, 0, 0])
    with pytest.raises(SystemExit):  # one weight per mode, or the command line says how many it takes
        train.main(["df", "--latents", "x", "--init", "toy-df", "--mode-weights", "1", "1", "1", "1"])


def test_clip_start_offsets_moves_only_windows_that_train_their_first_frame():
    """A window that trains its first latent frame starts at the clip's first latent; a clean prefix keeps its offset."""
    rng = np.random.default_rng(3)
    offsets = np.array([2, 1, 2, 1])
    weights = [torch.ones(FRAMES), torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0]),
               torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0]), torch.tensor([0.5, 1.0, 1.0, 1.0, 1.0])]
    assert clip_start_offsets(offsets, torch.stack(weights)).tolist() == [0, 1, 2, 0]
    # every mode: a pattern whose first frame has a loss is moved, a clean first frame is not
    for _ in range(200):
        draws = torch.rand(FRAMES)
        _, weight = frame_sigmas(rng, draws, FRAMES, (0.2, 0.2, 0.2, 0.2, 0.2))
        moved = clip_start_offsets(np.array([2]), weight[None])[0]
        assert moved == (0 if weight[0] > 0 else 2)
