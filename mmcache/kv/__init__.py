"""The KV layer: keys and values kept across forwards, how cached tokens score, which stay, and
attention over them.

* ``store``: per layer, the K/V of chunks of tokens (tagged by chunk), plus one compressed segment
  whose tokens are chosen per head; byte accounting.
* ``scoring``: token importance (pooled attention of current queries), redundancy (mean cosine
  similarity to the other keys, in O(L·d)), and per-head top-k selection.
* ``attention``: queries of some chunks over stored and fresh keys, with a chunk-causal mask.
"""
