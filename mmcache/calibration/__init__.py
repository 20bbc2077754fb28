"""Offline calibration: recorded full-compute trajectories turned into method parameters.

``mmcache.calibrate`` (``calibration.api``) runs the profiling; ``Calibration`` (``calibration.file``)
is the versioned file it writes, validated against ``calibration.schema`` when read.
"""
