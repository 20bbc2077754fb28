"""Where methods hook into a denoiser, one layer per module.

* ``call``: the whole denoiser call, computed or reused (step methods: EasyCache, ERTACache, ...).
* ``attention``: a diffusers attention processor's attention call redirected (sparse attention).

A block-level hook (the block stack run over a subset of tokens, scattered back) and the KV layer
(``mmcache.kv``) are added with the first methods that need them.
"""
