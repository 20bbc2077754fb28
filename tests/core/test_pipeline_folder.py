"""pipeline_folder: a bundled name or a saved folder → the folder; anything else → one clear error."""

import argparse
from pathlib import Path

import pytest

from mmcache.pipelines.loader import (
    BUNDLED,
    ModelNotFoundError,
    bundled_path,
    pipeline_folder,
    pipeline_folder_or_usage_error,
)


def test_bundled_names_and_saved_folders_resolve(tmp_path: Path) -> None:
    for name in BUNDLED:
        if (bundled_path(name) / "model_index.json").is_file():
            assert pipeline_folder(name) == bundled_path(name)
    (tmp_path / "model_index.json").write_text("{}")
    assert pipeline_folder(tmp_path) == tmp_path
    assert pipeline_folder(str(tmp_path)) == tmp_path


def test_anything_else_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="neither a bundled model .* nor a saved pipeline folder"):
        pipeline_folder(tmp_path)
    with pytest.raises(ModelNotFoundError, match="toy-t2v, toy-df"):
        pipeline_folder("toy-nonexistent")


def test_command_lines_get_one_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="toolname")
    (tmp_path / "model_index.json").write_text("{}")
    assert pipeline_folder_or_usage_error(parser, tmp_path) == tmp_path
    with pytest.raises(SystemExit) as stop:
        pipeline_folder_or_usage_error(parser, "toy-nonexistent")
    assert stop.value.code == 2
    assert "toolname: error: 'toy-nonexistent' is neither a bundled model" in capsys.readouterr().err
