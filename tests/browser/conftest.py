"""Fixtures shared by the browser tests: the built book, served on 127.0.0.1, and headless Chromium.

The book is built once per test run on the tiny profile with ``book/build.py`` (``tests/conftest.py``).
``STATELAB_BOOK_HTML=path/to/_build/html`` uses a book that is already built instead (for instance the
course build on the default profile, ``book/_build/html``), so the same tests check what is published.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from axe_audit import CHROMIUM_ARGS, chromium_path, serve



@pytest.fixture(scope="session")
def book_html(request: pytest.FixtureRequest) -> Path:
    """The built book's HTML folder: ``$STATELAB_BOOK_HTML``, or the session's one tiny build.

    The tiny build is ``tests/conftest.py::tiny_book_run``, shared with the notebook tests and, under
    pytest-xdist, by every worker.
    """
    if os.environ.get("STATELAB_BOOK_HTML"):
        html = Path(os.environ["STATELAB_BOOK_HTML"]).resolve()
        assert (html / "index.html").is_file(), f"STATELAB_BOOK_HTML={html} holds no built book (no index.html)"
        return html
    run = request.getfixturevalue("tiny_book_run")
    assert run["returncode"] == 0, f"book build failed\n{run['stdout'][-6000:]}\n{run['stderr'][-6000:]}"
    html = Path(run["output"]) / "_build" / "html"
    assert (html / "index.html").is_file() and (html / "search.html").is_file()
    return html


@pytest.fixture(scope="module")
def base_url(book_html: Path) -> Iterator[str]:
    """The built HTML served on 127.0.0.1 (a free port) from a background thread."""
    with serve(book_html) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path()), headless=True, args=list(CHROMIUM_ARGS),
                               timeout=60_000)
        try:
            yield b
        finally:
            b.close()
