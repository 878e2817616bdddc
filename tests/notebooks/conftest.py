"""One tiny book build per test session, whose notebook executions the notebook tests share.

``tiny_book`` runs ``book/build.py`` on the tiny profile into a temporary output folder (as CI and
instructors run it: the book's notebooks executed in parallel into its jupyter-cache, then Sphinx), then
executes, into the same cache and in parallel too, the course notebooks the book does not show (the nbgrader
source notebooks), with the same environment. ``test_book_build`` checks the HTML; ``test_execute`` checks
every notebook's executed copy. Under pytest-xdist every worker asks for the fixture: a file lock in the
session's shared temporary folder makes the first one build and the others read its result.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
BOOK = REPO_ROOT / "book"
CELL_TIMEOUT = 300  # seconds per cell for the notebooks outside the book (the book's own is in _config.yml)

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(BOOK / "_ext"))
import nbrules  # noqa: E402
import statelab_execute  # noqa: E402
from session_share import build_once, shared_dir  # noqa: E402

# build.py's report of a failed notebook: "  <path from the repository root>: cell N of M (...) raised ..."
_FAILURE_LINE = re.compile(r"^  (\S+\.ipynb): (.+)$", re.MULTILINE)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class BookBuild:
    """The session's tiny book build: its output folder, exit status and log, and each notebook's execution."""

    output: Path
    returncode: int
    log: str
    cache_dir: Path
    sources: dict[str, str]  # notebook (path from the repository root) -> sha256 before anything ran
    failures: dict[str, str]  # notebook -> why it failed (the cell, the error)

    @property
    def html(self) -> Path:
        return self.output / "_build" / "html"

    def executed(self, path: Path) -> nbformat.NotebookNode:
        """The notebook with the outputs of its execution in this session (fails the test if there is none)."""
        from jupyter_cache import get_cache

        rel = nbrules.rel(path)
        if rel in self.failures:
            pytest.fail(f"{rel} failed in the session's execution: {self.failures[rel]}")
        try:
            _, nb = get_cache(str(self.cache_dir)).merge_match_into_notebook(nbrules.read(path))
        except KeyError:
            pytest.fail(f"{rel} has no execution in the session's cache {self.cache_dir}; build log tail:\n"
                        + self.log[-3000:])
        return nb


@contextlib.contextmanager
def _environ(**values: str | None):
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def _stage(data_root: Path, stage: Path) -> Path:
    """A STATELAB_DATA_DIR where the notebooks' default dataset is the tiny one (as build.py stages it)."""
    import synthetic_data as sd

    stage.mkdir(parents=True, exist_ok=True)
    link = sd.dataset_path("default", data_root=stage)
    if not link.is_symlink():
        link.symlink_to(sd.dataset_path("tiny", data_root=data_root).resolve(), target_is_directory=True)
    return stage


def _build(data_root: Path, shared: Path, run: dict) -> dict:
    import yaml

    notebooks = nbrules.discover_notebooks()
    sources = {nbrules.rel(p): _sha256(p) for p in notebooks}
    output = Path(run["output"])  # the session's one book/build.py run (tests/conftest.py::tiny_book_run)
    log = run["stdout"] + "\n--- stderr ---\n" + run["stderr"]
    failures = dict(_FAILURE_LINE.findall(run["stderr"]))

    # The notebooks the book does not show run like the book's (their folder, the staged tiny dataset as the
    # default one), without STATELAB_BOOK_BUILD: an instructor's run, as before with papermill.
    config = yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf-8"))
    in_book = {p.resolve() for p in statelab_execute.book_notebooks(BOOK, config.get("execute") or {})}
    others = [p for p in notebooks if p.resolve() not in in_book and nbrules.is_runnable(nbrules.read(p))]
    cache_dir = output / "_build" / ".jupyter_cache"
    with _environ(STATELAB_DATA_DIR=str(_stage(data_root, shared / "statelab-data")), STATELAB_BOOK_BUILD=None):
        report = statelab_execute.execute_notebooks(others, cache_dir, jobs=statelab_execute.default_jobs(),
                                                    timeout=CELL_TIMEOUT, root=REPO_ROOT)
    failures.update(line.split(": ", 1) for line in report.failures)
    log += f"\n--- notebooks outside the book ---\n{len(report.executed)} executed, {len(report.failures)} failed\n"
    return {"output": str(output), "returncode": run["returncode"], "log": log, "cache_dir": str(cache_dir),
            "sources": sources, "failures": failures}


@pytest.fixture(scope="session")
def tiny_book(tiny_data_root: Path, tiny_book_run: dict, tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    _, result = build_once(shared_dir(tmp_path_factory), "tiny-book",
                           lambda folder: _build(tiny_data_root, folder, tiny_book_run))
    return BookBuild(output=Path(result["output"]), returncode=result["returncode"], log=result["log"],
                     cache_dir=Path(result["cache_dir"]), sources=result["sources"], failures=result["failures"])
