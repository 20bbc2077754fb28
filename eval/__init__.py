"""Evaluation of cache methods against the uncached baseline and their peers (``mmcache eval``).

Entry points: ``mmcache eval`` / ``python -m mmcache.eval`` (``cli.py``), and
``run_evaluation(EvalOptions(...))`` from Python. Benchmarks of the core live beside it
(``bench_core.py``).
"""
