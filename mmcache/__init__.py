"""mmcache: training-free caching and sparsity for multimodal generation pipelines.

>>> import mmcache
>>> handle = mmcache.enable(pipe, mmcache.EasyCacheConfig(threshold=0.1))
>>> video = pipe(prompt, num_inference_steps=50).frames[0]
>>> print(handle.stats())
>>> mmcache.disable(pipe)
"""

from .installed_kernels import load_installed_kernels

load_installed_kernels()  # before anything imports transformers or diffusers

from .calibration import Calibration, CalibrationMismatchError, calibrate
from .config import EASYCACHE_PRESETS, EasyCacheConfig, ERTACacheConfig, MethodConfig, ReuseScheduleConfig, SparseAttentionConfig
from .engine.adapter import FamilyAdapter
from .engine.api import disable, enable, enabled
from .engine.handle import CacheHandle
from .engine.registry import families, register_family
from .errors import AlreadyEnabledError, ConfigError, MMCacheError, NotEnabledError, UnsupportedModelError
from .stats import BranchCounts, CacheStats, StepRecord

__version__ = "0.1.0"

__all__ = [
    "enable",
    "disable",
    "enabled",
    "CacheHandle",
    "CacheStats",
    "StepRecord",
    "BranchCounts",
    "MethodConfig",
    "EasyCacheConfig",
    "EASYCACHE_PRESETS",
    "ReuseScheduleConfig",
    "ERTACacheConfig",
    "SparseAttentionConfig",
    "calibrate",
    "Calibration",
    "CalibrationMismatchError",
    "FamilyAdapter",
    "families",
    "register_family",
    "MMCacheError",
    "ConfigError",
    "UnsupportedModelError",
    "AlreadyEnabledError",
    "NotEnabledError",
    "__version__",
]
