"""EasyCache follows the paper's runtime criterion: checked against an independent replay.

Every denoiser call's input and output is recorded with plain PyTorch forward hooks (reused calls
included); the paper's algorithm is then replayed over those records in a straightforward loop,
and its compute/reuse decisions and reused outputs must match what mmcache did.
"""

from __future__ import annotations

import pytest
import torch

import mmcache
from mmcache.pipelines.tiny import generate_tiny as generate, build_tiny_pipeline



def mean_abs(t: torch.Tensor) -> float:
    return t.float().abs().mean().item()


def record_calls(pipe, family, config, steps):
    calls = []

    def pre(module, args, kwargs):
        calls.append({"x": kwargs["hidden_states"].detach().clone()})

    def post(module, args, kwargs, output):
        calls[-1]["o"] = (output[0] if isinstance(output, tuple) else output.sample).detach().clone()

    handles = [pipe.transformer.register_forward_pre_hook(pre, with_kwargs=True),
               pipe.transformer.register_forward_hook(post, with_kwargs=True)]
    with mmcache.enabled(pipe, config) as handle:
        generate(pipe, family, steps=steps)
    for h in handles:
        h.remove()
    return calls, handle.stats()


def replay(calls, branches_per_call, steps, tau, warmup, leader_chunk):
    """The paper's algorithm, written out directly. Returns the compute flag of each call."""
    state, leader_decision, flags = {}, {}, []
    step_of = {}
    for index, call in enumerate(calls):
        branch = branches_per_call[index]
        step = step_of.get(branch, 0)
        step_of[branch] = step + 1
        s = state.setdefault(branch, {"prev": None, "lastc": None, "last_o": None, "k": None, "E": 0.0})
        x = call["x"]
        lx = leader_chunk(x)
        if step not in leader_decision:  # the first branch at a step decides
            if step < warmup or step >= steps - 1 or s["k"] is None:
                compute = True
            else:
                s["E"] += s["k"] * mean_abs(lx - leader_chunk(s["prev"])) / mean_abs(leader_chunk(s["last_o"]))
                compute = not s["E"] < tau
            leader_decision[step] = compute
        else:
            compute = leader_decision[step] or s["last_o"] is None
        if compute:
            o = call["o"]
            if s["last_o"] is not None:
                s["k"] = mean_abs(leader_chunk(o) - leader_chunk(s["last_o"])) / mean_abs(lx - leader_chunk(s["lastc"]))
            s["last_o"], s["lastc"], s["E"] = o, x, 0.0
        else:
            expected = x + (s["last_o"] - s["lastc"])
            assert torch.allclose(call["o"], expected, atol=1e-6), f"reused output of call {index} is not x + delta"
        s["prev"] = x
        flags.append(compute)
    return flags


@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0])
def test_sequential_cfg_matches_replay(tau):
    pipe = build_tiny_pipeline("wan2.1-t2v")
    steps, warmup = 14, 3
    calls, stats = record_calls(pipe, "wan2.1-t2v", mmcache.EasyCacheConfig(threshold=tau, warmup_steps=warmup), steps)
    branches = ["cond", "uncond"] * steps
    flags = replay(calls, branches, steps, tau, warmup, leader_chunk=lambda t: t)
    assert flags == [r.computed for r in stats.timeline]
    cond = [r for r in stats.timeline if r.branch == "cond"]
    uncond = [r for r in stats.timeline if r.branch == "uncond"]
    assert [r.computed for r in cond] == [r.computed for r in uncond], "uncond follows the cond decision"
    assert all(r.computed for r in cond[:warmup]) and cond[-1].computed
    if tau >= 0.3:
        assert not all(flags), "a large threshold must reuse something"


def test_batched_cfg_decides_on_the_cond_chunk():
    pipe = build_tiny_pipeline("cogvideox")
    steps, warmup, tau = 12, 2, 0.5
    calls, stats = record_calls(pipe, "cogvideox", mmcache.EasyCacheConfig(threshold=tau, warmup_steps=warmup), steps)
    assert all(call["x"].shape[0] == 2 for call in calls)
    flags = replay(calls, ["cond_uncond"] * steps, steps, tau, warmup, leader_chunk=lambda t: t.chunk(2)[1])
    per_branch = [r.computed for r in stats.timeline if r.branch == "cond"]
    assert flags == per_branch
    assert not all(flags)
    reused = [r for r in stats.timeline if r.branch == "cond" and not r.computed]
    assert reused and all(r.metric < tau for r in reused)


def test_guidance_off_and_several_videos_per_prompt():
    pipe = build_tiny_pipeline("wan2.1-t2v")
    baseline = generate(pipe, "wan2.1-t2v", steps=10, guidance_scale=1.0, num_videos_per_prompt=2)
    assert baseline.shape[0] == 2
    with mmcache.enabled(pipe, mmcache.EasyCacheConfig(threshold=0.0)) as handle:
        same = generate(pipe, "wan2.1-t2v", steps=10, guidance_scale=1.0, num_videos_per_prompt=2)
    assert torch.equal(same, baseline)
    assert set(handle.stats().branches) == {"cond"} and handle.stats().calls == 10
    with mmcache.enabled(pipe, mmcache.EasyCacheConfig(threshold=1.0, warmup_steps=2)) as handle:
        cached = generate(pipe, "wan2.1-t2v", steps=10, guidance_scale=1.0, num_videos_per_prompt=2)
    assert cached.shape == baseline.shape and handle.stats().skipped > 0


def test_wan22_experts_keep_separate_caches():
    pipe = build_tiny_pipeline("wan2.2-t2v")
    with mmcache.enabled(pipe, mmcache.EasyCacheConfig(threshold=4.0, warmup_steps=1)) as handle:
        generate(pipe, "wan2.2-t2v", steps=16)
    timeline = [r for r in handle.stats().timeline if r.branch == "cond"]
    boundary = pipe.config.boundary_ratio * pipe.scheduler.config.num_train_timesteps
    first_low_noise = next(i for i, t in enumerate(pipe.scheduler.timesteps) if t < boundary)
    assert timeline[first_low_noise].computed, "the second expert has no cache of its own at the switch"
    assert timeline[first_low_noise].reason == "transformation rate not known yet"
