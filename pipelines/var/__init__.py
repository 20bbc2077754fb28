"""Next-scale prediction (VAR): a multi-scale residual VQ tokenizer, a block-causal transformer, a pipeline.

* ``vqvae``: ``MultiScaleVQVAE``, image ↔ token maps of every scale;
* ``transformer``: ``VARTransformer``, FoundationVision's VAR layout (``blocks[i].attn.mat_qkv`` ...);
* ``kv_cache``: ``KVCache``, the per-block cache a method can replace (``transformer.kv_cache_factory``);
* ``pipeline``: ``VARPipeline``, ``pipe(prompt, num_images, guidance_scale, ...) -> .images``, save / load;
* ``captions`` / ``data``: the shapes world as images, with a held-out split by caption;
* ``configs``: toy-var's and ``tiny:var``'s architectures; ``train`` / ``evaluate``: their command lines.
"""

from .configs import build_tiny_var
from .kv_cache import KVCache
from .pipeline import VARPipeline, is_var_folder
from .transformer import VARTransformer
from .vqvae import MultiScaleVQVAE

__all__ = ["KVCache", "MultiScaleVQVAE", "VARPipeline", "VARTransformer", "build_tiny_var", "is_var_folder"]
