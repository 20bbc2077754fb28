"""The README opens with the two commands, and CI runs exactly the second one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)


def test_readme_starts_with_two_commands_using_the_repo_venv():
    text = (ROOT / "README.md").read_text()
    first_block = text.index("```bash")
    assert text[:first_block].strip() == "# mmcache", "the two commands come first"
    first, second = readme_commands()[:2]
    for command in (first, second):
        assert "\n" not in command.strip(), "each is one command line"
        assert "python3 -m venv .venv" in command
    assert "mmcache generate --compare" in first
    assert "pytest" in second and ".[dev]" in second


def test_ci_runs_the_readme_test_command():
    second = readme_commands()[1].strip()
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert second in script
