"""HACK and its scale-KV baselines on a tiny random VARPipeline: identity when nothing is dropped, budgets kept,
attention over exactly the kept tokens, head classification files, and clear errors."""

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

import mmcache
from mmcache.calibration.hack_fit import classify
from mmcache.errors import ConfigError
from mmcache.kv.scale_cache import GroupedScaleCache, HeadGroup
from mmcache.kv.scale_layout import ScaleLayout
from mmcache.kv.scale_selectors import recent, structural, top_attended
from mmcache.pipelines.var import VARPipeline, build_tiny_var
from mmcache.pipelines.var.configs import TINY_TRANSFORMER

PROMPT = "a green triangle on a gray background"
CAPTIONS = ["a red circle on a black background", "a blue square on a white background"]
PATCH_NUMS = (1, 2, 3, 4)  # 30 tokens: the cache outgrows small budgets before the last scale


def tiny_var(seed: int = 0, depth: int = 2) -> VARPipeline:
    return build_tiny_var(seed, patch_nums=PATCH_NUMS, depth=depth)


def images(pipe):
    return pipe(PROMPT, num_images=2, generator=torch.Generator().manual_seed(5), output_type="pt").images


@pytest.fixture(scope="module")
def pipe():
    return tiny_var()


@pytest.fixture(scope="module")
def calibration_file(pipe, tmp_path_factory):
    path = tmp_path_factory.mktemp("hack") / "hack.json"
    mmcache.calibrate(pipe, method="hack", prompts=CAPTIONS, seeds=[0], progress=False).save(path)
    return str(path)


def test_settings_that_drop_nothing_give_the_plain_images(pipe, calibration_file):
    plain = images(pipe)
    keep_all = [mmcache.HACKConfig(budget=1.0),
                mmcache.HACKConfig(budget=1.0, contextual_budget=1.0, structural_budget=1.0,
                                   calibration=calibration_file),
                mmcache.ScaleTopKConfig(budget=1.0), mmcache.RecentScalesConfig(budget=1.0),
                mmcache.ScaleKVConfig(budget=1.0)]
    for config in keep_all:
        with mmcache.enabled(pipe, config) as handle:
            assert torch.equal(images(pipe), plain), config
            assert handle.stats().ratios() == {"kv_bytes_peak": 1.0, "kv_bytes_held": 1.0, "attention_flops": 1.0}
    assert torch.equal(images(pipe), plain)  # disable restored the pipeline's own cache


def test_hack_keeps_each_class_at_its_budget_and_saves_memory(pipe, calibration_file):
    config = mmcache.HACKConfig(budget=0.3, calibration=calibration_file)
    with mmcache.enabled(pipe, config) as handle:
        compressed = images(pipe)
        stats = handle.stats()
        groups = handle.head_groups
    names = {group.name for layer in groups for group in layer}
    assert names == {"contextual", "structural"}
    capacity = {group.name: group.capacity for layer in groups for group in layer}
    assert capacity["contextual"] < capacity["structural"]
    heads = [len(group.heads) for layer in groups for group in layer]
    mean_capacity = sum(len(g.heads) * g.capacity for layer in groups for g in layer) / sum(heads)
    assert mean_capacity <= 0.3 * 30 + 1e-9
    for record in stats.records:
        if record.scale < len(PATCH_NUMS) - 1:
            assert record.kept <= sum(len(g.heads) * g.capacity for g in groups[record.layer])
    ratios = stats.ratios()
    held_by_plain = 14  # tokens of scales 0-2: the plain cache's most between scales (the last is never read)
    assert ratios["kv_bytes_held"] <= mean_capacity / held_by_plain + 1e-9
    assert ratios["kv_bytes_peak"] < 1 and ratios["attention_flops"] < 1
    assert compressed.shape == images(pipe).shape


def test_attention_reads_exactly_the_kept_tokens():
    torch.manual_seed(0)
    layout = ScaleLayout(PATCH_NUMS)
    groups = [HeadGroup("contextual", (0, 2), 4, top_attended(3)), HeadGroup("structural", (1, 3), 7, structural(3, 1))]
    cache = GroupedScaleCache(0, layout, groups)
    B, H, D = 2, 4, 8
    full_k, full_v = [], []
    for scale, (begin, end) in enumerate(layout.begin_ends):
        q, k, v = (torch.randn(B, H, end - begin, D) for _ in range(3))
        kept_before = [cache.group_tensors(i) for i in range(len(groups))]
        out = cache.attend(q, k, v, scale, softmax_scale=0.5)
        full_k.append(k)
        full_v.append(v)
        keys, values = torch.cat(full_k, 2), torch.cat(full_v, 2)
        for index, group in enumerate(groups):
            heads = list(group.heads)
            allowed = torch.zeros(B, len(heads), 1, end, dtype=torch.bool)
            allowed[..., begin:end] = True
            if kept_before[index] is not None:
                allowed.scatter_(3, kept_before[index][2].unsqueeze(2), True)
            expected = F.scaled_dot_product_attention(q[:, heads], keys[:, heads], values[:, heads],
                                                      attn_mask=allowed, scale=0.5)
            torch.testing.assert_close(out[:, heads], expected)
            after = cache.group_tensors(index)
            if scale < layout.num_scales - 1:
                assert after[2].shape[-1] == min(group.capacity, allowed.sum(-1).max())
                torch.testing.assert_close(after[0], keys[:, heads].gather(2, after[2][..., None].expand(-1, -1, -1, D)))


def test_selectors_rank_tiers_first():
    layout = ScaleLayout(PATCH_NUMS)
    ids = torch.arange(30).expand(1, 1, -1)
    queries, keys = torch.randn(1, 1, 16, 4), torch.randn(1, 1, 30, 4)
    keys[..., 10, :] = 0  # equal logits except token 12, which every query prefers
    selection = mmcache.kv.scale_cache.SelectionInput(0, 3, queries, keys, ids, 1.0, 8, layout)
    assert set(recent(1)(selection)[0, 0].tolist()) == {0, *range(23, 30)}
    kept = set(structural(4, 2)(selection)[0, 0].tolist())
    assert set(range(5)) <= kept and len(kept) == 8  # the first two scales (5 tokens) come first
    selection = dataclasses.replace(selection, capacity=21)
    assert set(range(14, 30)) <= set(structural(4, 2)(selection)[0, 0].tolist())  # then the scale just computed
    keys = torch.zeros(1, 1, 30, 4)
    keys[..., 12, :] = 5.0
    selection = dataclasses.replace(selection, keys=keys, queries=torch.ones(1, 1, 16, 4), capacity=1)
    assert top_attended(4)(selection).tolist() == [[[12]]]


def test_calibration_file_round_trip_and_mismatch(pipe, calibration_file, tmp_path):
    calibration = mmcache.HACKCalibration.load(calibration_file)
    assert calibration.samples == 2 and len(calibration.head_scores) == 2
    assert sum(map(len, calibration.contextual_heads)) == round(0.5 * 2 * TINY_TRANSFORMER["num_heads"])
    other = tiny_var(depth=3)
    with pytest.raises(mmcache.CalibrationMismatchError, match="num layers"):
        mmcache.enable(other, mmcache.HACKConfig(budget=0.3, calibration=calibration_file))
    broken = json.loads(open(calibration_file).read())
    broken["head_scores"] = broken["head_scores"][:1]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match="head_scores has 1 entries"):
        mmcache.HACKCalibration.load(path)
    scores = torch.tensor([[3.0, 1.0], [0.5, 2.0]])
    assert classify(scores, 0.5) == [[1], [0]]


def test_clear_errors(pipe, calibration_file):
    with pytest.raises(ConfigError, match="needs calibration"):
        mmcache.enable(pipe, mmcache.HACKConfig(budget=0.3))
    with pytest.raises(ConfigError, match="both contextual_budget and structural_budget"):
        mmcache.HACKConfig(budget=0.3, contextual_budget=0.1)
    with pytest.raises(ConfigError, match="average"):
        mmcache.enable(pipe, mmcache.HACKConfig(budget=0.3, contextual_budget=0.1, structural_budget=0.2,
                                                calibration=calibration_file))
    with pytest.raises(ConfigError, match="do not apply"):
        mmcache.enable(pipe, mmcache.EasyCacheConfig())
    with pytest.raises(ConfigError, match="next-scale-prediction"):
        mmcache.enable(mmcache.pipelines.load("tiny:wan2.1-t2v"), mmcache.HACKConfig())
    with pytest.raises(ConfigError, match="budget must be a fraction"):
        mmcache.ScaleTopKConfig(budget=0)


def test_changed_scale_kv_methods_carry_a_behaviour_version_into_stored_identities():
    from mmcache.methods.base import behaviour_identity

    assert behaviour_identity(mmcache.EasyCacheConfig()) == {}  # first versions keep identities as they were
    assert behaviour_identity(mmcache.HACKConfig()) == {"behaviour": 2}
    assert behaviour_identity(mmcache.ScaleKVConfig()) == {"behaviour": 2}
    assert behaviour_identity(None) == {}
