"""Bad input across mmcache's entry points: each case gets one clear error (or a notice and a recovery).

One table per area (``table_*.py``), one test module per kind of entry point:

    table_generate.py, table_calibrate.py, table_eval_flags.py, table_eval_vqa.py, table_eval_image.py,
    table_demo_cli.py, table_top_level.py       CLI flags          → test_cli.py (in-process main(argv))
    table_eval_files.py                         eval output files  → test_eval_files.py
    table_demo_requests.py                      demo requests      → test_demo_requests.py
    table_api.py                                Python API misuse  → test_api.py
    table_calibration_files.py                  calibration files  → test_core_tables.py
    table_config_assignment.py                  config fields      → test_core_tables.py

A CLI case asserts the exit code (2: usage error from argparse; 1: other bad input), the message
and that there is no traceback; cases marked ``before_load`` also fail the test if a model is loaded.
"""
