"""Method configurations: one dataclass per method, validated on creation, JSON round-trippable."""

from .base import MethodConfig, registered_methods
from .easycache import EASYCACHE_PRESETS, EasyCacheConfig
from .ertacache import ERTACacheConfig
from .schedule import ReuseScheduleConfig
from .sparse_attention import SparseAttentionConfig

__all__ = ["MethodConfig", "registered_methods", "EasyCacheConfig", "EASYCACHE_PRESETS", "ReuseScheduleConfig", "ERTACacheConfig", "SparseAttentionConfig"]
