"""Evicted tokens merged into kept ones (HACK's soft merge) and class budgets capped at what a head can hold."""

import pytest
import torch.nn.functional as F
import torch

import mmcache
from mmcache.kv.evicted_merge import evicted_indices, keep_and_merge
from mmcache.kv.scoring import gather_tokens
from mmcache.kv.scale_cache import GroupedScaleCache, HeadGroup
from mmcache.kv.scale_layout import ScaleLayout
from mmcache.kv.scale_selectors import observation_indices, top_attended
from mmcache.methods.hack import class_budgets
from mmcache.pipelines.var import build_tiny_var


def test_evicted_indices_are_the_complement_of_the_kept():
    keep = torch.tensor([[[1, 3, 4]], [[0, 2, 5]]])
    assert evicted_indices(6, keep).tolist() == [[[0, 2, 5]], [[1, 3, 4]]]


def test_each_evicted_token_is_averaged_into_its_most_similar_kept_token():
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.2, 0.8], [0.1, 0.9]])[None, None]
    values = torch.arange(5.0)[:, None].expand(5, 2)[None, None]
    merged_keys, merged_values = keep_and_merge(keys, values, torch.tensor([[[0, 1]]]))
    torch.testing.assert_close(merged_keys[0, 0], torch.tensor([[0.95, 0.05], [0.1, 0.9]]))
    torch.testing.assert_close(merged_values[0, 0, :, 0], torch.tensor([1.0, (1 + 3 + 4) / 3]))


def test_keeping_every_token_merges_nothing():
    keys, values = torch.randn(2, 3, 7, 4), torch.randn(2, 3, 7, 4)
    keep = torch.arange(7).expand(2, 3, -1)
    merged_keys, merged_values = keep_and_merge(keys, values, keep)
    assert torch.equal(merged_keys, keys) and torch.equal(merged_values, values)


def test_the_cache_stores_the_merged_tokens_at_the_kept_positions():
    torch.manual_seed(0)
    layout = ScaleLayout((1, 2, 3))
    merging = GroupedScaleCache(0, layout, [HeadGroup("all", (0, 1), 3, top_attended(2), merge_evicted=True)])
    dropping = GroupedScaleCache(0, layout, [HeadGroup("all", (0, 1), 3, top_attended(2))])
    keys, values = [], []
    for scale, (begin, end) in enumerate(layout.begin_ends[:2]):
        q, k, v = (torch.randn(1, 2, end - begin, 4) for _ in range(3))
        keys.append(k)
        values.append(v)
        merging.attend(q, k, v, scale, 0.5)
        dropping.attend(q, k, v, scale, 0.5)
    merged_k, merged_v, merged_ids = merging.group_tensors(0)
    kept_k, _, kept_ids = dropping.group_tensors(0)
    assert torch.equal(merged_ids, kept_ids)  # the same tokens are chosen; only their contents differ
    expected_k, expected_v = keep_and_merge(torch.cat(keys, 2), torch.cat(values, 2), kept_ids.long())
    torch.testing.assert_close(merged_k, expected_k)
    torch.testing.assert_close(merged_v, expected_v)
    assert not torch.equal(merged_k, kept_k)
    torch.testing.assert_close(kept_k, gather_tokens(torch.cat(keys, 2), kept_ids.long()))


def test_class_budgets_never_exceed_what_a_head_can_hold():
    cap = 66 / 130  # toy-var: every scale but the last
    contextual, structural = class_budgets(0.5, 0.5, 0.25, cap)
    assert structural == pytest.approx(cap)
    assert 0.5 * contextual + 0.5 * structural == pytest.approx(0.5)
    assert class_budgets(0.3, 0.5, 0.25, cap) == pytest.approx((0.12, 0.48))  # under the cap: the plain split


def test_hack_merges_by_default_at_no_memory_cost(tmp_path):
    pipe = build_tiny_var(0, patch_nums=(1, 2, 3, 4), depth=2)
    path = str(tmp_path / "hack.json")
    mmcache.calibrate(pipe, method="hack", prompts=["a blue square"], seeds=[0], progress=False).save(path)

    def run(config):
        with mmcache.enabled(pipe, config) as handle:
            pipe("a red circle", num_images=1, generator=torch.Generator().manual_seed(3), output_type="pt")
            return {group.merge_evicted for layer in handle.head_groups for group in layer}, handle.stats().ratios()

    merged_flags, merged_ratios = run(mmcache.HACKConfig(budget=0.3, calibration=path))
    dropped_flags, dropped_ratios = run(mmcache.HACKConfig(budget=0.3, calibration=path, merge_evicted=False))
    assert merged_flags == {True} and dropped_flags == {False}
    assert merged_ratios == dropped_ratios and merged_ratios["kv_bytes_held"] < 1


def test_merging_over_several_scales_matches_a_step_by_step_reference():
    torch.manual_seed(1)
    layout = ScaleLayout((1, 2, 3, 4))
    cache = GroupedScaleCache(0, layout, [HeadGroup("all", (0, 1, 2), 3, top_attended(3), merge_evicted=True)])
    ref_k = ref_v = ref_ids = None
    for scale, (begin, end) in enumerate(layout.begin_ends[:-1]):
        q, k, v = (torch.randn(2, 3, end - begin, 8, dtype=torch.float64) for _ in range(3))
        cache.attend(q, k, v, scale, 0.3)
        ids = torch.arange(begin, end).expand(2, 3, -1)
        if ref_k is not None:
            k, v, ids = torch.cat((ref_k, k), 2), torch.cat((ref_v, v), 2), torch.cat((ref_ids, ids), 2)
        if k.shape[2] > 3:  # compressed after scales 1 and 2: merged tokens merge again
            observers = q[:, :, observation_indices(q.shape[2], 3, q.device)]
            scores = (observers @ k.transpose(-1, -2) * 0.3).softmax(-1)
            keep = scores.sum(2).topk(3, dim=-1).indices.sort(dim=-1).values
            kept_k, kept_v = gather_tokens(k, keep), gather_tokens(v, keep)
            for b in range(2):
                for h in range(3):
                    for token in sorted(set(range(k.shape[2])) - set(keep[b, h].tolist())):
                        similarity = F.cosine_similarity(k[b, h, token][None], k[b, h, keep[b, h]], dim=-1)
                        kept_k[b, h, similarity.argmax()] += k[b, h, token]
                        kept_v[b, h, similarity.argmax()] += v[b, h, token]
                    for slot, position in enumerate(keep[b, h].tolist()):
                        merged = [t for t in sorted(set(range(k.shape[2])) - set(keep[b, h].tolist()))
                                  if F.cosine_similarity(k[b, h, t][None], k[b, h, keep[b, h]], dim=-1).argmax() == slot]
                        kept_k[b, h, slot] /= 1 + len(merged)
                        kept_v[b, h, slot] /= 1 + len(merged)
            k, v, ids = kept_k, kept_v, ids.gather(2, keep)
        ref_k, ref_v, ref_ids = k, v, ids
        got_k, got_v, got_ids = cache.group_tensors(0)
        assert torch.equal(got_ids.long(), ref_ids)
        torch.testing.assert_close(got_k, ref_k)
        torch.testing.assert_close(got_v, ref_v)


def test_half_precision_merges_keep_the_cache_dtype():
    keys, values = torch.randn(1, 2, 9, 4).bfloat16(), torch.randn(1, 2, 9, 4).bfloat16()
    keep = torch.tensor([[[0, 3, 5]], [[1, 2, 8]]]).view(1, 2, 3)
    merged_keys, merged_values = keep_and_merge(keys, values, keep)
    assert merged_keys.dtype == merged_values.dtype == torch.bfloat16
    reference_keys, _ = keep_and_merge(keys.float(), values.float(), keep)
    torch.testing.assert_close(merged_keys.float(), reference_keys, atol=2e-2, rtol=2e-2)
