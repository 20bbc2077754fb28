"""The tables for calibration files and config assignment (filled as the core validates them)."""

from __future__ import annotations

import pytest

from .table_calibration_files import CALIBRATION_FILE_CASES
from .table_config_assignment import CONFIG_ASSIGNMENT_CASES
from .test_cli import PREFIXES, run_case


@pytest.mark.skipif(not CALIBRATION_FILE_CASES, reason="no calibration-file cases yet")
@pytest.mark.parametrize("case", CALIBRATION_FILE_CASES or [None])
def test_calibration_files(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["generate"], tmp_path, capsys, request)


@pytest.mark.skipif(not CONFIG_ASSIGNMENT_CASES, reason="no config-assignment cases yet")
@pytest.mark.parametrize("make_config, field, value, error, message", CONFIG_ASSIGNMENT_CASES or [(None,) * 5])
def test_config_assignment(make_config, field, value, error, message):
    config = make_config()
    with pytest.raises(error) as raised:
        setattr(config, field, value)
    assert message in str(raised.value).splitlines()[0]
