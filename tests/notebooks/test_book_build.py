"""The book builds on the tiny profile, shows executed output, and never leaks instructor material.

The session's tiny book build (``tiny_book`` in conftest.py, shared with test_execute) runs ``book/build.py``
as a subprocess (as CI and instructors do) into a temporary output folder, so the execution cache starts empty
and nothing is written to book/_build. Its notebooks are executed in parallel before Sphinx, which must then
execute none. Mini books show that a notebook raising an error fails the build, naming the notebook and cell.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK = REPO_ROOT / "book"
BUILD_SCRIPT = BOOK / "build.py"
TIMEOUT = 1200

pytestmark = pytest.mark.slow

_IMG_ALT = re.compile(r"<img\b[^>]*\balt=\"([^\"]+)\"")


def _build(tiny_data_root: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    import synthetic_data as sd

    cmd = [sys.executable, str(BUILD_SCRIPT), "--profile", "tiny", "--seed", str(sd.DEFAULT_SEED),
           "--data-root", str(tiny_data_root), "--output", str(output), *extra]
    env = dict(os.environ, STATELAB_DATA_DIR=str(tiny_data_root))
    return subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT)


def _load_build():
    import importlib.util

    spec = importlib.util.spec_from_file_location("statelab_book_build", BUILD_SCRIPT)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


@pytest.fixture(scope="module")
def built_book(tiny_book) -> Path:
    assert tiny_book.returncode == 0, f"book build failed\n{tiny_book.log[-12000:]}"
    assert (tiny_book.html / "index.html").is_file()
    return tiny_book.html


def test_jupyter_book_finds_every_notebook_executed(built_book: Path, tiny_book) -> None:
    log = re.sub(r"\x1b\[[0-9;]*m", "", tiny_book.log)
    m = re.search(r"\[statelab\] notebooks: (\d+) executed, (\d+) already cached, 0 failed", log)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) == 0, "build.py did not execute the notebooks first"
    used = re.findall(r"(\S+\.ipynb): Using cached notebook", log)
    assert "Executing notebook" not in log, "Jupyter Book executed a notebook itself"
    assert len(used) == int(m.group(1)), f"{m.group(1)} notebooks executed, Jupyter Book read {len(used)} from the cache"


def _module_pages(html: Path) -> list[Path]:
    return sorted((html / "modules").rglob("*.html"))


def test_module_pages_show_executed_output(built_book: Path) -> None:
    pages = _module_pages(built_book)
    assert pages, "no module pages were built"
    lesson = built_book / "modules" / "01-orientation" / "01-working-with-confidential-data.html"
    text = lesson.read_text(encoding="utf-8")
    alts = _IMG_ALT.findall(text)
    assert alts and all(a.strip() for a in alts), "the lesson shows no figure with alt text"
    # tables formatted for people (statelab.tables, a pandas Styler) render as <table> with header cells
    assert re.search(r"<table[^>]*>.*?<th[ >]", text, re.S), "the lesson shows no rendered table"
    assert "cell_output" in text


def test_codebook_is_generated(built_book: Path) -> None:
    text = (built_book / "generated" / "codebook.html").read_text(encoding="utf-8")
    assert "ui_wage" in text and "ssn" in text


def test_no_instructor_material_or_remote_assets(built_book: Path) -> None:
    build = _load_build()
    assert build.scan_html(built_book) == []
    forbidden = ["BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "truth.person", "truth.crosswalk"]
    for page in built_book.rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="replace")
        for marker in forbidden:
            assert marker not in text, f"{page.relative_to(built_book)} contains {marker!r}"


def _mini_book(root: Path, cell_source: str) -> Path:
    """A one-notebook book using the real configuration and extension."""
    book = root / "book"
    book.mkdir(parents=True)
    for name in ["_config.yml", "references.bib"]:
        shutil.copy(BOOK / name, book / name)
    for name in ["_ext", "_static"]:
        shutil.copytree(BOOK / name, book / name, ignore=shutil.ignore_patterns("__pycache__"))
    (book / "intro.md").write_text("# Mini book\n\nA check of the build configuration.\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A page"), nbformat.v4.new_code_cell(cell_source)]
    nbformat.write(nb, book / "page.ipynb")
    return book


def test_erroring_notebook_fails_the_build(tiny_data_root: Path, tmp_path: Path) -> None:
    good = _mini_book(tmp_path / "good", "print(6 * 7)")
    result = _build(tiny_data_root, tmp_path / "good-out", "--source", str(good))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "42" in (tmp_path / "good-out" / "_build" / "html" / "page.html").read_text()

    bad = _mini_book(tmp_path / "bad", "raise RuntimeError('deliberate failure in a book notebook')")
    result = _build(tiny_data_root, tmp_path / "bad-out", "--source", str(bad))
    assert result.returncode != 0
    assert "deliberate failure in a book notebook" in result.stderr
    assert re.search(r"page\.ipynb: cell 2 of 2 .*raised RuntimeError", result.stderr), result.stderr[-4000:]
    assert "jupyter-book exited" not in result.stdout, "Sphinx ran although a notebook failed"


def test_jobs_must_be_a_positive_number(capsys: pytest.CaptureFixture) -> None:
    build = _load_build()
    assert build.parse_args(["--jobs", "3"]).jobs == 3
    assert build.parse_args([]).jobs == (os.cpu_count() or 1)
    for bad in ["0", "-2", "two"]:
        with pytest.raises(SystemExit) as exc:
            build.parse_args(["--jobs", bad])
        assert exc.value.code == 2
        assert f"{bad!r} is not a number of notebooks to run at once" in capsys.readouterr().err
