"""evaluate's prompt selection by background and its KEY=VALUE call overrides."""

import pytest

from mmcache.pipelines.toy.captions import held_out_specs
from mmcache.pipelines.toy.evaluate import call_overrides, chosen_specs


def test_backgrounds_select_their_held_out_prompts_in_order():
    gray = chosen_specs(45, ["gray"])
    assert gray and {s.background for s in gray} == {"gray"}
    assert gray == [s for s in held_out_specs() if s.background == "gray"]
    assert chosen_specs(3, ["gray", "black"]) == [s for s in held_out_specs() if s.background != "white"][:3]
    assert chosen_specs(45, None) == held_out_specs()


class _Pipe:
    def __call__(self, prompt, num_inference_steps=30, guidance_scale=5.0, addnoise_condition=0, generator=None):
        raise AssertionError("not called")


def test_overrides_are_parsed_and_unknown_keys_are_refused():
    assert call_overrides(_Pipe(), ["guidance_scale=3.0", "num_inference_steps=50"]) == {
        "guidance_scale": 3.0, "num_inference_steps": 50}
    assert call_overrides(_Pipe(), []) == {}
    for bad in ("guidance=3", "guidance_scale", "generator=1"):
        with pytest.raises(SystemExit, match="guidance_scale"):
            call_overrides(_Pipe(), [bad])


def test_first_clips_keep_to_one_background_and_refuse_an_unknown_one():
    from mmcache.pipelines.toy.data import first_clips, make_clip

    gray = first_clips(3, 4, "held_out", background="gray", num_frames=5, size=32)
    assert [c.spec.background for c in gray] == ["gray"] * 4
    every = first_clips(3, 2, "held_out", start=7, num_frames=5, size=32)
    assert [c.caption for c in every] == [make_clip(3, i, "held_out", 5, 32).caption for i in (7, 8)]
    with pytest.raises(ValueError, match="gray"):
        first_clips(3, 1, "held_out", background="grey")
