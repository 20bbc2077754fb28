"""mmcache: training-free caching and sparsity for multimodal generation pipelines.

>>> import mmcache
>>> handle = mmcache.enable(pipe, mmcache.EasyCacheConfig(threshold=0.1))
>>> video = pipe(prompt, num_inference_steps=50).frames[0]
>>> print(handle.stats())
>>> mmcache.disable(pipe)
"""

from .installed_kernels import load_installed_kernels

load_installed_kernels()  # before anything imports transformers or diffusers

from .api import disable, enable, enabled
from .calibration.api import calibrate
from .calibration.file import Calibration, CalibrationMismatchError
from .calibration.hack_file import HACKCalibration
from .calibration.prefixkv_file import PrefixKVCalibration
from .errors import AlreadyEnabledError, ConfigError, MMCacheError, NotEnabledError, UnsupportedModelError
from .families import FamilyAdapter, VLMAdapter, families, register_family
from .families.var_adapter import VARAdapter
from .handle import CacheHandle
from .methods.base import MethodConfig
from .methods.easycache import EasyCacheConfig
from .methods.ertacache import ERTACacheConfig
from .methods.flowcache import FlowCacheConfig
from .methods.hack import HACKConfig
from .methods.kv_baselines import PyramidKVConfig, SnapKVConfig, StreamingLLMConfig
from .methods.prefixkv import PrefixKVConfig
from .methods.reuse_schedule import ReuseScheduleConfig
from .methods.scale_kv_baselines import RecentScalesConfig, ScaleKVConfig, ScaleTopKConfig
from .methods.sparse_attention import SparseAttentionConfig
from .methods.zipvl import ZipVLConfig
from .kv.scale_stats import ScaleKVStats
from .kv.stats import KVLayerStats, KVStats
from .stats import BranchCounts, CacheStats, ChunkRecord, StepRecord

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
    "ReuseScheduleConfig",
    "ERTACacheConfig",
    "FlowCacheConfig",
    "ChunkRecord",
    "SparseAttentionConfig",
    "ZipVLConfig",
    "PrefixKVConfig",
    "StreamingLLMConfig",
    "SnapKVConfig",
    "PyramidKVConfig",
    "HACKConfig",
    "ScaleTopKConfig",
    "RecentScalesConfig",
    "ScaleKVConfig",
    "ScaleKVStats",
    "HACKCalibration",
    "VARAdapter",
    "KVStats",
    "KVLayerStats",
    "PrefixKVCalibration",
    "VLMAdapter",
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
