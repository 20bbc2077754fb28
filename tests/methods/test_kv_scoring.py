"""FlowCache's pooled attention score, taken a few queries at a time, equals the whole-matrix mean."""

import torch

from mmcache.kv.scoring import attention_weights, pooled_attention


def test_pooled_attention_in_query_chunks_equals_the_full_mean():
    torch.manual_seed(0)
    queries, keys = torch.randn(2, 3, 37, 8), torch.randn(2, 3, 19, 8)
    full = attention_weights(queries, keys, None, 8 ** -0.5).mean(dim=2)
    torch.testing.assert_close(pooled_attention(queries, keys, 1, chunk=5), full)
    pooled = pooled_attention(queries, keys, 3, chunk=5)
    torch.testing.assert_close(pooled[..., 1:-1], torch.stack([full[..., :-2], full[..., 1:-1], full[..., 2:]]).amax(0))


def test_no_mask_and_an_all_true_mask_agree():
    queries, keys = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 6, 8)
    everything = torch.ones(1, 1, 1, 1, dtype=torch.bool)
    torch.testing.assert_close(attention_weights(queries, keys, None, 0.3),
                               attention_weights(queries, keys, everything, 0.3))
