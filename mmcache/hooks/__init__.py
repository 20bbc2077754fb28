"""Where methods hook into a denoiser, one layer per module.

* ``call``: the whole denoiser call, computed or reused (step methods: EasyCache, ERTACache, ...).
* ``attention``: a diffusers attention processor's attention call redirected (sparse attention).
* ``blocks``: the block stack run over a subset of its tokens (FlowCache's chunkwise reuse).
* ``constant_inputs``: modules whose input stays the same through a generation answer from memory.
* ``kv_attention``: the KV methods' attention and mask functions on a transformers language model.

The KV layer itself (caches, scoring, routing) is ``mmcache.kv``.
"""
