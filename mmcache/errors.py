"""The errors mmcache raises. Each says what went wrong and what to do instead."""


class MMCacheError(Exception):
    """Base class of every error raised by mmcache."""


class ConfigError(MMCacheError, ValueError):
    """A method configuration has an invalid value, or does not fit the model it is applied to."""


class UnsupportedModelError(MMCacheError, TypeError):
    """mmcache does not know how to attach to this pipeline or module."""


class AlreadyEnabledError(MMCacheError, RuntimeError):
    """mmcache is already enabled on this pipeline or module."""


class NotEnabledError(MMCacheError, RuntimeError):
    """mmcache is not enabled on this pipeline or module."""
