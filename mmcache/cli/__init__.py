"""The ``mmcache`` command line: the application layer over core, pipelines, eval and demos."""
