"""The README opens with the two commands, and CI runs the same test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _blocks():
    return re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def test_readme_opens_with_main_and_test_commands():
    main, test = _blocks()[:2]
    assert "book/build.py" in main and "pip install" in main
    assert "pytest" in test and ".[test]" in test


def test_ci_runs_the_readme_test_command():
    test = _blocks()[1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines()
