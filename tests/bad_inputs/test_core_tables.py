"""The tables for calibration files and config assignment."""

from __future__ import annotations

import pytest

from .table_calibration_files import CALIBRATION_FILE_CASES
from .table_config_assignment import CONFIG_ASSIGNMENT_CASES
from .test_cli import PREFIXES, run_case


@pytest.mark.parametrize("case", CALIBRATION_FILE_CASES)
def test_calibration_files(case, tmp_path, capsys, request):
    run_case(case, PREFIXES["generate"], tmp_path, capsys, request)


@pytest.mark.parametrize("make_config, field, value, error, message", CONFIG_ASSIGNMENT_CASES)
def test_config_assignment(make_config, field, value, error, message):
    config = make_config()
    before = getattr(config, field, None)
    with pytest.raises(error) as raised:
        setattr(config, field, value)
    assert message in str(raised.value).splitlines()[0]
    assert getattr(config, field, None) == before
