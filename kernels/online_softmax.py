"""The online-softmax update of FlashAttention, shared by the attention kernels.

Scores are in log2 units (already multiplied by ``scale * log2(e)``) so the kernels use ``exp2``.
Rows that have seen no visible key yet (max still -inf) are shifted by 0 instead of -inf.
"""

from __future__ import annotations

from .triton_compat import tl, triton

LOG2_E = 1.4426950408889634  # log2(e): the kernels work in base 2 (exp2) with the scale folded in


@triton.jit
def online_softmax_step(scores, v_tile, row_max, row_sum, acc):
    """Fold one ``[BLOCK_M, BLOCK_N]`` score tile and its values into ``(row_max, row_sum, acc)``."""
    new_max = tl.maximum(row_max, tl.max(scores, 1))
    shift = tl.where(new_max == float("-inf"), 0.0, new_max)
    rescale = tl.math.exp2(row_max - shift)
    probs = tl.math.exp2(scores - shift[:, None])
    row_sum = row_sum * rescale + tl.sum(probs, 1)
    acc = acc * rescale[:, None] + tl.dot(probs.to(v_tile.dtype), v_tile)
    return new_max, row_sum, acc
