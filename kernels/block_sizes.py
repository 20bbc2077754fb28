"""Tile sizes shared by the block-sparse attention kernel and the masks that drive it.

``BLOCK_M = 128`` query rows x ``BLOCK_N = 64`` key rows is the H100 sweet spot for a
FlashAttention-style forward with head dim 128 in bf16: the 128-row query tile is loaded once and
reused for every key tile (two warpgroups' worth of wgmma rows with 8 warps), the 64-key tile keeps
the fp32 score tile at 32 registers per thread, and three stages of K/V tiles (3 x 2 x 16 KiB)
plus Q (32 KiB) fit well inside shared memory. The finer key granularity also lets a mask skip
key regions at 64-token resolution. A block mask has one entry per (BLOCK_M queries, BLOCK_N keys).
"""

BLOCK_M = 128
BLOCK_N = 64
SUPPORTED_HEAD_DIMS = (32, 64, 128)
