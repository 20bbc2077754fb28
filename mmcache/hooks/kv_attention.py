"""The KV methods' hook on a transformers language model: attention and mask functions, and the cache.

mmcache registers one attention function and one mask function under the name ``"mmcache"`` in
transformers' ``AttentionInterface`` and ``AttentionMaskInterface``, then sets that name on the
language model of an enabled VLM only (``language_model.set_attn_implementation``): the vision
tower keeps its own attention and nothing is patched. The functions look up the attachment of the
module (or config) they are called for; a model mmcache was not enabled on never reaches them.

A forward pre-hook on the language model gives each new generation mmcache's cache (a transformers
``Cache`` of ``PrunableLayer``s) in place of the empty ``DynamicCache`` that ``generate`` made, so the
user's own ``model.generate(**inputs)`` and bare forwards run unchanged. The attention function then:

* prefill (a layer's first forward on a fresh cache): the method's ``prefill`` computes the output
  (densely or sparsely) and may compress the layer;
* a layer that still holds every token in order: the model's own attention with the mask the model
  built, bit for bit;
* a compressed layer: attention over the kept tokens with a mask evaluated at their original indices
  (and, for quantized parts, ``kernels.quantized_decode_attention`` merged by log-sum-exp); then the
  method's ``after_decode``.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any, Callable

import torch
from transformers import AttentionInterface
from transformers.cache_utils import Cache
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, causal_mask_function
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from ..errors import ConfigError, UnsupportedModelError
from ..kv.attention import attend_kept, attend_with_lse, merge_by_lse
from ..kv.layer_cache import LiveLayers, PrunableLayer, is_mmcache_cache, new_cache
from ..kv.mask import KVMask, padding_over
from ..kv.policy import KVPolicy, PrefillCall
from ..kv.stats import KVRecorder

ATTENTION_NAME = "mmcache"

_BY_MODULE: "weakref.WeakKeyDictionary[torch.nn.Module, LanguageModelAttachment]" = weakref.WeakKeyDictionary()
_BY_CONFIG: list[tuple[Any, "LanguageModelAttachment"]] = []


def kv_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                 attention_mask: Any, scaling: float | None = None, dropout: float = 0.0,
                 **kwargs: Any) -> tuple[torch.Tensor, None]:
    """mmcache's attention function (transformers' ``AttentionInterface`` signature)."""
    attachment = _BY_MODULE.get(module)
    if attachment is None:
        raise UnsupportedModelError(
            f"The attention implementation {ATTENTION_NAME!r} runs only on models mmcache.enable(...) attached a KV "
            f"method to; {type(module).__name__} is not one. Set another attn_implementation on it."
        )
    return attachment.attend(module, query, key, value, attention_mask, scaling, dropout, kwargs), None


def kv_mask(batch_size: int, q_length: int, kv_length: int, q_offset: int = 0, kv_offset: int = 0,
            mask_function: Callable[..., Any] = causal_mask_function, attention_mask: torch.Tensor | None = None,
            config: Any = None, **kwargs: Any) -> KVMask:
    """mmcache's mask function: the model's own mask plus what the compressed layers need (``KVMask``)."""
    attachment = next((attached for known, attached in _BY_CONFIG if known is config), None)
    if attachment is None:
        raise UnsupportedModelError(f"The mask implementation {ATTENTION_NAME!r} runs only on models with an mmcache "
                                    "KV method enabled.")
    dense = attachment.original_mask(batch_size=batch_size, q_length=q_length, kv_length=kv_length, q_offset=q_offset,
                                     kv_offset=kv_offset, mask_function=mask_function, attention_mask=attention_mask,
                                     config=config, **kwargs)
    return KVMask(dense, padding_over(attention_mask, kv_length + kv_offset), int(q_offset), q_length, batch_size,
                  mask_function)


def _register_functions() -> None:
    if AttentionInterface._global_mapping.get(ATTENTION_NAME) is not kv_attention:
        AttentionInterface.register(ATTENTION_NAME, kv_attention)
    if AttentionMaskInterface._global_mapping.get(ATTENTION_NAME) is not kv_mask:
        AttentionMaskInterface.register(ATTENTION_NAME, kv_mask)


class LanguageModelAttachment:
    """What a KV method put on one language model; ``detach`` removes it."""

    def __init__(self, language_model: torch.nn.Module, modules: tuple[torch.nn.Module, ...], policy: KVPolicy,
                 recorder: KVRecorder) -> None:
        self.language_model = language_model
        self.modules = modules
        self.policy = policy
        self.recorder = recorder
        self.live = LiveLayers()
        self.original_impl: str = language_model.config._attn_implementation
        self._hook: Any = None

    # -- attaching ------------------------------------------------------------------------------
    def attach(self) -> "LanguageModelAttachment":
        if self.original_impl == ATTENTION_NAME:
            raise ConfigError("This language model already runs mmcache's attention; disable mmcache first.")
        if self.original_impl != "eager" and self.original_impl not in ALL_ATTENTION_FUNCTIONS:
            raise UnsupportedModelError(f"mmcache's KV methods cannot wrap the attention implementation "
                                        f"{self.original_impl!r}; load the model with attn_implementation='sdpa'.")
        if self.original_impl not in ALL_MASK_ATTENTION_FUNCTIONS:
            raise UnsupportedModelError(f"The attention implementation {self.original_impl!r} has no transformers mask "
                                        "function; load the model with attn_implementation='sdpa'.")
        _register_functions()
        for module in self.modules:
            _BY_MODULE[module] = self
        _BY_CONFIG.append((self.language_model.config, self))
        try:
            self.language_model.set_attn_implementation(ATTENTION_NAME)
            self._hook = self.language_model.register_forward_pre_hook(self._give_cache, with_kwargs=True)
        except Exception:
            self.detach()
            raise
        return self

    def detach(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if self.language_model.config._attn_implementation == ATTENTION_NAME:
            self.language_model.set_attn_implementation(self.original_impl)
        for module in self.modules:
            _BY_MODULE.pop(module, None)
        _BY_CONFIG[:] = [(config, attached) for config, attached in _BY_CONFIG if attached is not self]

    def original_mask(self, **kwargs: Any) -> Any:
        return ALL_MASK_ATTENTION_FUNCTIONS[self.original_impl](**kwargs)

    def original_attention(self, module: torch.nn.Module) -> Callable[..., tuple[torch.Tensor, Any]]:
        if self.original_impl == "eager":
            return getattr(sys.modules[type(module).__module__], "eager_attention_forward")
        return ALL_ATTENTION_FUNCTIONS[self.original_impl]

    # -- the cache ------------------------------------------------------------------------------
    def _give_cache(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        name = "cache" if "cache" in kwargs or "past_key_values" not in kwargs else "past_key_values"
        cache = kwargs.get(name)
        if is_mmcache_cache(cache):
            return None
        use_cache = kwargs.get("use_cache")
        if use_cache is None:
            use_cache = getattr(module.config, "use_cache", True)
        if cache is None and not use_cache:
            return None
        if cache is not None and (not isinstance(cache, Cache) or cache.get_seq_length() > 0):
            raise ConfigError("This forward continues a KV cache made without mmcache (filled before mmcache.enable); "
                              "start the generation again with the KV method enabled.")
        return args, {**kwargs, name: new_cache(len(self.modules), self.live)}

    # -- attention ------------------------------------------------------------------------------
    def attend(self, module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               mask: Any, scaling: float | None, dropout: float, kwargs: dict) -> torch.Tensor:
        index = int(module.layer_idx)
        layer = self.live.take(index)
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        original = self.original_attention(module)

        def run_original(dense_mask: Any) -> torch.Tensor:
            return original(module, query, key, value, dense_mask, dropout=dropout, scaling=scaling, **kwargs)[0]

        if not isinstance(mask, KVMask):
            if layer is not None and not layer.contiguous:
                raise ConfigError("A compressed KV cache needs the model to build its own attention mask; pass a 2D "
                                  "attention_mask (or none), not a 4D one.")
            return run_original(mask)
        if layer is None or layer.seen == query.shape[2]:  # a prompt: the method's prefill
            if index == 0:
                self.recorder.start_run()
                self.policy.start_run()
            call = PrefillCall(index, query, key, value, mask, scale, run_original)
            output = self.policy.prefill(call, layer)
            self.recorder.prefill(call, layer)
            if index == len(self.modules) - 1:
                self.recorder.prefill_done()
            return output
        self.recorder.decode(index)
        if layer.contiguous:
            output = run_original(mask.dense)
        else:
            output = compressed_attention(query, layer, mask, scale, getattr(self.policy, "backend", "auto"))
        self.policy.after_decode(layer)
        return output


def compressed_attention(query: torch.Tensor, layer: PrunableLayer, mask: KVMask, scale: float,
                         backend: str = "auto") -> torch.Tensor:
    """Queries ``[B, H, Q, D]`` over the tokens a compressed layer holds → ``[B, Q, H, D]`` (``backend``: of the
    quantized decode kernel)."""
    positions = layer.token_positions()
    allowed = None
    if mask.padding is not None or query.shape[2] > 1:
        allowed = mask.allowed(positions)
    if not layer.quantized:
        return attend_kept(query, layer.keys, layer.values, allowed, scale).transpose(1, 2)
    from mmcache.kernels import SUPPORTED_HEAD_DIMS, quantized_decode_attention
    from mmcache.kernels.quantized_decode_attention import quantized_decode_attention_reference

    segments = [part.segment for part in layer.quantized]
    if query.dtype in (torch.float16, torch.bfloat16) and query.shape[-1] in SUPPORTED_HEAD_DIMS:
        parts = [quantized_decode_attention(query, segments, scale=scale, backend=backend, return_lse=True)]
    else:
        parts = [quantized_decode_attention_reference(query, segments, scale=scale, return_lse=True)]
    if layer.keys is not None and layer.keys.shape[-2] > 0:
        parts.append(attend_with_lse(query, layer.keys, layer.values, allowed, scale))
    return merge_by_lse(parts).to(query.dtype).transpose(1, 2)
