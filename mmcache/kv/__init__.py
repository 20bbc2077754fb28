"""The KV layer: keys and values kept across forwards, how cached tokens score, which stay, and
attention over them.

* ``store``: per layer, the K/V of chunks of tokens (tagged by chunk), plus one compressed segment
  whose tokens are chosen per head; byte accounting (FlowCache).
* ``layer_cache``: transformers cache layers (``DynamicLayer`` subclasses) that keep each token's
  original index and can drop tokens or hold quantized segments (the KV methods of VLMs).
* ``mask``: the model's attention mask evaluated at the original indices of the tokens a layer kept.
* ``scoring``: attention received, token importance (pooled attention of current queries),
  redundancy (mean cosine similarity to the other keys, in O(L·d)), and per-head top-k selection.
* ``budgets``: how many tokens a layer keeps (a share of the attention mass, one global threshold
  over the layers' cumulative-priority curves, a pyramid over the layers).
* ``attention``: queries over stored and fresh keys with a chunk-causal mask; over kept tokens;
  among important tokens only; partial attentions merged by log-sum-exp.
* ``policy`` / ``stats``: what a KV method of a VLM decides at prefill and decode, and what it did.
* ``kept_positions``: which prompt positions each layer kept after the prefill, and per position the
  share of layers (and heads) that kept it.
"""
