"""Fast checks of the book's generated pages and of the built-HTML scanner (no Sphinx run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK = REPO_ROOT / "book"

sys.path.insert(0, str(BOOK / "_ext"))
import statelab_book  # noqa: E402


def _load_build():
    spec = importlib.util.spec_from_file_location("statelab_book_build", BOOK / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _learner_nb(text: str = "raise NotImplementedError()"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Problem set"), nbformat.v4.new_code_cell(text)]
    return nb


def test_codebook_page_is_generated_from_the_package(tmp_path: Path) -> None:
    import synthetic_data as sd

    path = statelab_book.write_codebook(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "`ui_wage`" in text or "ui_wage" in text
    assert sum(1 for line in text.splitlines() if line.startswith("# ")) == 1, "the page needs exactly one title"
    body_lines = [line for line in sd.codebook_markdown().splitlines() if line.startswith("| `")]
    assert body_lines and all(line in text for line in body_lines[:20])
    mtime = path.stat().st_mtime_ns
    statelab_book.write_codebook(tmp_path)
    assert path.stat().st_mtime_ns == mtime, "unchanged pages must not be rewritten (keeps rebuilds incremental)"


def test_headings_are_demoted_outside_code_fences() -> None:
    text = "# A\n\n## B\n\n```\n# not a heading\n```\n"
    assert statelab_book._shift_headings(text) == "## A\n\n### B\n\n```\n# not a heading\n```\n"


def test_released_assignments_are_copied_and_listed(tmp_path: Path) -> None:
    release = tmp_path / "release"
    (release / "ps1").mkdir(parents=True)
    (release / "ps1" / ".ipynb_checkpoints").mkdir()
    nbformat.write(_learner_nb(), release / "ps1" / "01-problems.ipynb")
    nbformat.write(_learner_nb(), release / "ps1" / ".ipynb_checkpoints" / "01-problems-checkpoint.ipynb")
    book = tmp_path / "book"
    copied = statelab_book.copy_released_assignments(book, release)
    assert [p.relative_to(book).as_posix() for p in copied] == ["generated/assignments/ps1/01-problems.ipynb"]
    page = (book / "generated" / "assignments.md").read_text()
    assert "{download}" in page and "assignments/ps1/01-problems.ipynb" in page

    # a notebook withdrawn from release disappears from the book
    (release / "ps1" / "01-problems.ipynb").unlink()
    assert statelab_book.copy_released_assignments(book, release) == []
    assert not (book / "generated" / "assignments" / "ps1" / "01-problems.ipynb").exists()
    assert "No assignments have been released yet" in (book / "generated" / "assignments.md").read_text()


@pytest.mark.parametrize("marker", ["### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"])
def test_source_versions_are_never_published(tmp_path: Path, marker: str) -> None:
    release = tmp_path / "release" / "ps1"
    release.mkdir(parents=True)
    nbformat.write(_learner_nb(f"{marker}\nanswer = 42"), release / "01-problems.ipynb")
    with pytest.raises(RuntimeError, match="refusing to publish"):
        statelab_book.copy_released_assignments(tmp_path / "book", tmp_path / "release")
    assert not (tmp_path / "book" / "generated" / "assignments" / "ps1").exists()


def test_no_release_folder_gives_placeholder_page(tmp_path: Path) -> None:
    assert statelab_book.copy_released_assignments(tmp_path / "book", tmp_path / "missing") == []
    assert (tmp_path / "book" / "generated" / "assignments.md").exists()


def test_html_scanner_flags_leaks_and_remote_assets(tmp_path: Path) -> None:
    build = _load_build()
    html = tmp_path / "html"
    (html / "_static").mkdir(parents=True)
    (html / "ok.html").write_text('<script src="_static/x.js"></script><a href="https://mybinder.org">Binder</a> ground truth. Next')
    assert build.scan_html(html) == []
    cases = {
        "a.html": "<pre>### BEGIN SOLUTION</pre>",
        "b.html": "<pre>### BEGIN HIDDEN TESTS</pre>",
        "c.html": "<pre>SELECT * FROM truth.person</pre>",
        "d.html": '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>',
        "e.html": '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Lato">',
    }
    for name, body in cases.items():
        (html / name).write_text(body)
    (html / "_static" / "theme.css").write_text("@import url('https://fonts.example.org/x.css');")
    flagged = {p.split(":")[0] for p in build.scan_html(html)}
    assert flagged == set(cases) | {"_static/theme.css"}
