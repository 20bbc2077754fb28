"""Method specs on the command line: splitting, labels, mmcache methods and peers, clear errors."""

from __future__ import annotations

import pytest

from mmcache.eval.errors import EvalError
from mmcache.eval.labels import method_label
from mmcache.eval.method_spec import split_method_list
from mmcache.eval.methods import BASELINE, resolve_methods
from mmcache.eval.peers import PEERS


def test_a_list_of_specs_splits_where_a_new_name_starts():
    text = "easycache:threshold=0.1,warmup_steps=5,easycache:threshold=0.2,diffusers-fbc,schedule:reuse_steps=[2,3]"
    assert split_method_list(text) == ["easycache:threshold=0.1,warmup_steps=5", "easycache:threshold=0.2",
                                       "diffusers-fbc", "schedule:reuse_steps=[2,3]"]


def test_baseline_comes_first_and_labels_are_unique_and_filesystem_safe():
    methods = resolve_methods(["easycache:threshold=0.1,diffusers-pab:spatial_attention_block_skip_range=2",
                               "baseline,diffusers-magcache:threshold=0.5"])
    assert [m.label for m in methods] == [BASELINE, "easycache-threshold=0.1",
                                          "diffusers-pab-spatial_attention_block_skip_range=2",
                                          "diffusers-magcache-threshold=0.5"]
    assert [m.kind for m in methods] == ["baseline", "mmcache", "peer", "peer"]
    assert methods[1].config.threshold == 0.1


def test_labels_of_paths_and_long_specs():
    assert method_label("ertacache", {"calibration": "/data/runs/cal v1.json"}) == "ertacache-calibration=cal_v1.json"
    long = method_label("diffusers-taylorseer", {f"key{i}": "x" * 20 for i in range(8)})
    assert len(long) <= 96 and "/" not in long


def test_peer_values_become_config_types():
    methods = resolve_methods(["diffusers-pab:spatial_attention_timestep_skip_range=[100,700],"
                               "diffusers-taylorseer:taylor_factors_dtype=float32,disable_cache_after_step=null"])
    assert methods[1].params["spatial_attention_timestep_skip_range"] == (100, 700)
    import torch

    assert methods[2].params["taylor_factors_dtype"] is torch.float32


@pytest.mark.parametrize(
    "spec, message",
    [
        ("magic:x=1", "Unknown method 'magic'"),
        ("easycache:tau=0.1", "has no parameter"),
        ("easycache:threshold=-1", "threshold must be >= 0"),
        ("diffusers-fbc:tau=0.1", "diffusers-fbc has no parameter(s) ['tau']"),
        ("diffusers-fbc:threshold=fast", "threshold must be a number"),
        ("diffusers-seacache:residual_order=3", "residual_order"),
        ("diffusers-magcache:mag_ratios=missing.json", "not auto, flux, a list"),
        ("diffusers-magcache:calibrate=true", "calibrate is set by mmcache eval"),
        ("easycache:threshold=0.1,easycache:threshold=0.1", "give each method once"),
        ("baseline:x=1", "baseline takes no parameters"),
        ("threshold=0.1", "starts with a parameter"),
        ("easycache:threshold", "write key=value"),
    ],
)
def test_bad_specs_give_one_clear_error(spec, message):
    with pytest.raises(EvalError) as caught:
        resolve_methods([spec])
    assert message in str(caught.value)


def test_unknown_method_lists_every_known_one():
    with pytest.raises(EvalError) as caught:
        resolve_methods(["magic"])
    for name in ("baseline", "easycache", "diffusers-fbc", "diffusers-magcache", "diffusers-taylorseer",
                 "diffusers-pab", "diffusers-fastercache", "diffusers-seacache", "cache-dit"):
        assert name in str(caught.value)


def test_cache_dit_is_optional():
    reason = PEERS["cache-dit"].unavailable_reason()
    if reason is None:
        pytest.skip("cache-dit is installed here")
    with pytest.raises(EvalError, match="cache-dit is unavailable: the cache-dit package is not installed"):
        resolve_methods(["cache-dit:residual_diff_threshold=0.1"])


def test_fingerprint_follows_parameters_and_named_files(tmp_path):
    calibration = tmp_path / "c.json"
    calibration.write_text("[1]")
    from mmcache.eval.methods import EvalMethod

    def method() -> EvalMethod:
        return EvalMethod("x", "x", "peer", "x", {"calibration": str(calibration)})

    before = method().fingerprint
    calibration.write_text("[2]")
    assert method().fingerprint != before
    assert resolve_methods(["easycache:threshold=0.1"])[1].fingerprint != \
        resolve_methods(["easycache:threshold=0.2"])[1].fingerprint
