"""The opt-in record of which tokens every head group of a VAR block keeps after each scale (``record_kept``)."""

import pytest
import torch

import mmcache
from mmcache.kv.scale_layout import ScaleLayout

from .test_hack import PATCH_NUMS, calibration_file, images, pipe  # noqa: F401 (fixtures)

LAYOUT = ScaleLayout(PATCH_NUMS)
LAST = len(PATCH_NUMS) - 1


def test_off_by_default_nothing_is_recorded(pipe, calibration_file):  # noqa: F811
    with mmcache.enabled(pipe, mmcache.HACKConfig(budget=0.3, calibration=calibration_file)) as handle:
        assert handle.record_kept is False
        images(pipe)
        assert handle.kept_tokens() == {}
        assert all(record.kept_tokens is None for record in handle.stats().records)


def test_kept_ids_per_scale_match_each_groups_capacity(pipe, calibration_file):  # noqa: F811
    with mmcache.enabled(pipe, mmcache.HACKConfig(budget=0.3, calibration=calibration_file)) as handle:
        handle.record_kept = True
        recorded_images = images(pipe)
        kept, records = handle.kept_tokens(), handle.stats().records
        groups = handle.head_groups
        handle.record_kept = False
        assert torch.equal(images(pipe), recorded_images)  # recording changes nothing
    assert sorted(kept) == list(range(len(groups)))
    assert {scale for layer in kept.values() for scale in layer} == set(range(len(PATCH_NUMS)))
    for record in records:
        recorded = kept[record.layer][record.scale]
        assert [(part.group, part.heads) for part in recorded] == [(g.name, g.heads) for g in groups[record.layer]]
        for part, group in zip(recorded, groups[record.layer]):
            width = 0 if record.scale == LAST else min(group.capacity, LAYOUT.tokens_through(record.scale))
            assert part.ids.shape == (len(group.heads), width) and part.ids.dtype == torch.int16
            assert part.ids.device.type == "cpu"
            if width:
                assert (part.ids.diff(dim=1) > 0).all()  # sorted sequence positions, each once
                assert part.ids.max() < LAYOUT.tokens_through(record.scale)
        assert sum(part.ids.numel() for part in recorded) == record.kept


def test_recent_scales_keeps_the_sinks_and_the_newest_tokens(pipe):  # noqa: F811
    with mmcache.enabled(pipe, mmcache.RecentScalesConfig(budget=0.3, initial_scales=2)) as handle:
        handle.record_kept = True
        images(pipe)
        (after_scale_2,) = handle.kept_tokens()[0][2]
    # 9 of 30 tokens: scales 0 and 1 (tokens 0-4), then the newest of scale 2 (tokens 5-13)
    assert after_scale_2.group == "all" and after_scale_2.ids.tolist() == [[0, 1, 2, 3, 4, 10, 11, 12, 13]] * 4


def test_recording_applies_from_the_next_run_and_takes_only_a_bool(pipe):  # noqa: F811
    with mmcache.enabled(pipe, mmcache.ScaleTopKConfig(budget=0.3)) as handle:
        images(pipe)
        handle.record_kept = True
        assert handle.kept_tokens() == {}  # the finished run was not recorded
        images(pipe)
        assert len(handle.kept_tokens()) == len(handle.head_groups)
        handle.record_kept = False
        images(pipe)
        assert handle.kept_tokens() == {}
        with pytest.raises(TypeError, match="record_kept must be True or False"):
            handle.record_kept = 1
