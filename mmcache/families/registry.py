"""Registry of model-family adapters and the lookup from a user's target to its adapter.

The built-in families are the modules of this package (one file each), registered when
``mmcache.families`` is imported. Third-party families call ``register_family`` themselves.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Mapping

import torch

from ..errors import ConfigError, UnsupportedModelError
from .adapter import FamilyAdapter
from .var_adapter import VARAdapter
from .vlm_adapter import VLMAdapter

Adapter = FamilyAdapter | VLMAdapter | VARAdapter

_FAMILIES: dict[str, Adapter] = {}
_UNSUPPORTED_PIPELINES: dict[str, str] = {}
ADDING_A_FAMILY = "docs/FAMILIES.md ('Adding a family')"


def register_family(adapter: Adapter) -> Adapter:
    """Add (or replace) a family adapter (a diffusers ``FamilyAdapter``, a ``VLMAdapter`` or a ``VARAdapter``)."""
    _FAMILIES[adapter.name] = adapter
    return adapter


def register_unsupported_pipeline(class_name: str, reason: str) -> None:
    """Declare a pipeline class that the step methods must refuse, with the reason shown to users."""
    _UNSUPPORTED_PIPELINES[class_name] = reason


def families() -> dict[str, Adapter]:
    """All registered families, built-ins included (diffusers pipeline families and vision-language models)."""
    return dict(_FAMILIES)


def _pipeline_families() -> dict[str, FamilyAdapter]:
    return {name: adapter for name, adapter in _FAMILIES.items() if isinstance(adapter, FamilyAdapter)}


def vlm_families() -> dict[str, VLMAdapter]:
    """The registered vision-language model families."""
    return {name: adapter for name, adapter in _FAMILIES.items() if isinstance(adapter, VLMAdapter)}


def var_families() -> dict[str, VARAdapter]:
    """The registered next-scale-prediction (VAR) families."""
    return {name: adapter for name, adapter in _FAMILIES.items() if isinstance(adapter, VARAdapter)}


def family_preset(family: str, method: str) -> Mapping[str, Any]:
    """The settings of ``method`` that family ``family`` declares, or one error naming the families that have some."""
    adapter = _FAMILIES.get(family)
    if adapter is None or method not in adapter.presets:
        having = sorted(name for name, candidate in _FAMILIES.items() if method in candidate.presets)
        raise ConfigError(f"No {method} preset for {family!r}; presets are keyed by model family: {having}.")
    return adapter.presets[method]


def _class_names(obj: Any) -> list[str]:
    return [cls.__name__ for cls in type(obj).__mro__]


def unwrap_compiled(module: torch.nn.Module) -> torch.nn.Module:
    """The module inside a ``torch.compile`` wrapper (``OptimizedModule``), or the module itself."""
    return getattr(module, "_orig_mod", module)


def supported_summary() -> str:
    """One line per family, for error messages."""
    lines = [
        f"  - {adapter.name}: pipelines {', '.join(adapter.pipeline_classes) or '-'}; "
        f"denoisers {', '.join(adapter.denoiser_classes)}"
        for adapter in _pipeline_families().values()
    ]
    lines += [f"  - {adapter.name} (vision-language, KV methods): {', '.join(adapter.model_classes)}"
              for adapter in vlm_families().values()]
    lines += [f"  - {adapter.name} (next-scale prediction, scale-KV methods): {', '.join(adapter.pipeline_classes)}"
              for adapter in var_families().values()]
    return "\n".join(lines)


def _unsupported(what: str, reason: str = "") -> UnsupportedModelError:
    detail = f" ({reason})" if reason else ""
    return UnsupportedModelError(
        f"mmcache does not support {what}{detail}. Supported families:\n{supported_summary()}\n"
        "Any diffusers transformer whose forward takes `hidden_states` and `timestep` and keeps its blocks in a "
        f"ModuleList is served by the generic path. To add a family, see {ADDING_A_FAMILY}."
    )


def _generic_adapter(module: torch.nn.Module) -> FamilyAdapter | None:
    """An adapter for an unknown diffusers transformer, if it has the shape the engine needs."""
    if "ModelMixin" not in _class_names(module):
        return None
    parameters = inspect.signature(module.forward).parameters
    if "hidden_states" not in parameters or "timestep" not in parameters:
        return None
    stacks = tuple(name for name, child in module.named_children() if isinstance(child, torch.nn.ModuleList))
    if not stacks:
        return None
    return FamilyAdapter(
        name=f"generic:{type(module).__name__}", pipeline_classes=(), denoiser_classes=(type(module).__name__,),
        block_attributes=stacks, notes="served by the generic diffusers-transformer path",
    )


def _most_specific(names: list[str], classes_of: Any) -> FamilyAdapter | None:
    """The family naming the most derived class in ``names`` (an MRO), so a subclass's own family wins."""
    for name in names:
        for adapter in _pipeline_families().values():
            if name in classes_of(adapter):
                return adapter
    return None


def adapter_for_module(module: torch.nn.Module) -> FamilyAdapter:
    """The adapter of a denoiser module; the generic path for unknown diffusers transformers."""
    module = unwrap_compiled(module)
    adapter = _most_specific(_class_names(module), lambda a: a.denoiser_classes)
    if adapter is not None:
        return adapter
    generic = _generic_adapter(module)
    if generic is None:
        raise _unsupported(f"the module {type(module).__name__}")
    return generic


@dataclasses.dataclass(frozen=True)
class ResolvedTarget:
    """A user's target resolved into its pipeline (if any), adapter and denoiser modules."""

    pipeline: Any | None
    adapter: FamilyAdapter
    denoisers: tuple[torch.nn.Module, ...]
    denoiser_names: tuple[str, ...]


def resolve_target(target: Any) -> ResolvedTarget:
    """Find the adapter and denoisers for a diffusers pipeline or a denoiser module."""
    if isinstance(target, torch.nn.Module):
        adapter = adapter_for_module(target)
        return ResolvedTarget(None, adapter, (unwrap_compiled(target),), ("denoiser",))
    names = _class_names(target)
    for name in names:
        if name in _UNSUPPORTED_PIPELINES:
            raise _unsupported(f"the pipeline {type(target).__name__}", _UNSUPPORTED_PIPELINES[name])
    if not hasattr(target, "components"):
        raise _unsupported(f"objects of type {type(target).__name__} (expected a diffusers pipeline or its denoiser)")
    adapter = _most_specific(names, lambda a: a.pipeline_classes)
    attributes = adapter.denoiser_attributes if adapter else ("transformer", "transformer_2", "unet")
    found = [(attr, getattr(target, attr, None)) for attr in attributes]
    found = [(attr, module) for attr, module in found if isinstance(module, torch.nn.Module)]
    if not found:
        raise _unsupported(f"the pipeline {type(target).__name__}", "it has no transformer denoiser")
    if adapter is None:
        adapter = adapter_for_module(found[0][1])
    return ResolvedTarget(
        pipeline=target,
        adapter=adapter,
        denoisers=tuple(unwrap_compiled(module) for _, module in found),
        denoiser_names=tuple(attr for attr, _ in found),
    )


@dataclasses.dataclass(frozen=True)
class ResolvedVLM:
    """A user's vision-language target resolved: the object enabled on, the transformers model, its language model."""

    owner: Any
    model: torch.nn.Module
    adapter: VLMAdapter
    language_model: torch.nn.Module
    attention_modules: tuple[torch.nn.Module, ...]


def _vlm_adapter_of(module: Any) -> VLMAdapter | None:
    if not isinstance(module, torch.nn.Module):
        return None
    for name in _class_names(unwrap_compiled(module)):
        for adapter in vlm_families().values():
            if name in adapter.model_classes:
                return adapter
    return None


def is_vlm_target(target: Any) -> bool:
    """Whether ``target`` is a registered vision-language model, or an object whose ``.model`` is one."""
    return _vlm_adapter_of(target) is not None or _vlm_adapter_of(getattr(target, "model", None)) is not None


def resolve_vlm(target: Any) -> ResolvedVLM:
    """The model, adapter and language model of a VLM (or of an object holding one as ``.model``)."""
    model = target if _vlm_adapter_of(target) is not None else getattr(target, "model", None)
    adapter = _vlm_adapter_of(model)
    if adapter is None:
        raise _unsupported(f"objects of type {type(target).__name__} with KV methods (expected a transformers "
                           "vision-language model, or an object holding one as `.model`)")
    model = unwrap_compiled(model)
    language_model = adapter.find_language_model(model)
    modules = tuple(adapter.attention_modules(language_model)) if language_model is not None else ()
    if language_model is None or not modules:
        raise _unsupported(f"the model {type(model).__name__}",
                           f"no language model with decoder layers at `{adapter.language_model}`")
    return ResolvedVLM(target, model, adapter, language_model, modules)


@dataclasses.dataclass(frozen=True)
class ResolvedVAR:
    """A user's VAR target resolved: the object enabled on, its transformer and the family adapter."""

    owner: Any
    transformer: torch.nn.Module
    adapter: VARAdapter


def _var_match(obj: Any) -> tuple[VARAdapter, torch.nn.Module] | None:
    names = _class_names(obj)
    for adapter in var_families().values():
        if isinstance(obj, torch.nn.Module) and any(name in adapter.transformer_classes for name in names):
            return adapter, obj
        if any(name in adapter.pipeline_classes for name in names):
            transformer = getattr(obj, adapter.transformer_attribute, None)
            if isinstance(transformer, torch.nn.Module):
                return adapter, transformer
    return None


def is_var_target(target: Any) -> bool:
    """Whether ``target`` is a registered VAR pipeline or transformer."""
    return _var_match(target) is not None


def resolve_var(target: Any) -> ResolvedVAR:
    """The transformer and adapter of a VAR pipeline or transformer."""
    match = _var_match(target)
    if match is None:
        raise _unsupported(f"objects of type {type(target).__name__} with scale-KV methods (expected a "
                           "next-scale-prediction pipeline such as VARPipeline, or its transformer)")
    adapter, transformer = match
    return ResolvedVAR(target, unwrap_compiled(transformer), adapter)
