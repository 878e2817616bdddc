"""``statelab-grade`` starts at once: loading the command line imports none of the heavy libraries.

nbgrader alone takes seconds to import on a loaded machine, so the CLI imports each
command's modules inside the command. Checked from ``sys.modules`` in a fresh
interpreter, not timed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.grading

HEAVY = ("nbgrader", "pandas", "sqlalchemy", "nbformat", "nbconvert", "traitlets", "matplotlib", "numpy",
         "IPython", "jupyter_client")


def _loaded_after(statement: str) -> list[str]:
    code = (f"import json, sys\n{statement}\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.splitlines()[-1])  # the last line: --help prints its text before it


def test_loading_the_cli_imports_no_heavy_module():
    assert _loaded_after("import graders._cli") == []


def test_importing_the_package_imports_no_heavy_module():
    assert _loaded_after("import graders") == []


def test_help_answers_without_importing_nbgrader():
    statement = ("from graders._cli import main\n"
                 "try:\n    main(['--help'])\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code")
    assert _loaded_after(statement) == []


def test_help_lists_every_step_of_the_term():
    out = subprocess.run([sys.executable, "-m", "graders._cli", "--help"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    for command in ("students", "release", "collect", "autograde", "review", "feedback", "export", "report"):
        assert command in out.stdout
    sub = subprocess.run([sys.executable, "-m", "graders._cli", "students", "--help"], capture_output=True,
                         text=True, timeout=300)
    assert sub.returncode == 0 and all(c in sub.stdout for c in ("add", "import", "list"))
