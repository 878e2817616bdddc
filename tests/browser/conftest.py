"""Fixtures shared by the browser tests: the built book, served on 127.0.0.1, and headless Chromium.

The book is built once per test run on the tiny profile with ``book/build.py`` into a temporary folder.
``STATELAB_BOOK_HTML=path/to/_build/html`` uses a book that is already built instead (for instance the
course build on the default profile, ``book/_build/html``), so the same tests check what is published.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from axe_audit import CHROMIUM_ARGS, chromium_path, serve

try:
    import fcntl
except ImportError:  # not POSIX: every xdist worker builds its own copy
    fcntl = None

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "book" / "build.py"
BUILD_TIMEOUT = 1200


def _build_book(data_root: Path, output: Path) -> subprocess.CompletedProcess:
    import synthetic_data as sd

    cmd = [sys.executable, str(BUILD_SCRIPT), "--profile", "tiny", "--seed", str(sd.DEFAULT_SEED),
           "--data-root", str(data_root), "--output", str(output)]
    env = dict(os.environ, STATELAB_DATA_DIR=str(data_root))
    return subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT)


@pytest.fixture(scope="session")
def book_html(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built book's HTML folder: ``$STATELAB_BOOK_HTML``, or the book built once on the tiny profile.

    Under pytest-xdist the workers share one build through a lock file in the run's common temporary
    folder (``--dist loadgroup`` cannot be used to keep these tests together: pytest-xdist#1386).
    """
    if os.environ.get("STATELAB_BOOK_HTML"):
        html = Path(os.environ["STATELAB_BOOK_HTML"]).resolve()
        assert (html / "index.html").is_file(), f"STATELAB_BOOK_HTML={html} holds no built book (no index.html)"
        return html
    if os.environ.get("PYTEST_XDIST_WORKER") and fcntl is not None:
        output = tmp_path_factory.getbasetemp().parent / "statelab-browser-book"
    else:
        output = tmp_path_factory.mktemp("browser-book")
    output.mkdir(exist_ok=True)
    html = output / "_build" / "html"
    done, failed = output / "build-ok", output / "build-failed.log"
    with open(output / "build.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists() and not failed.exists():
            result = _build_book(request.getfixturevalue("tiny_data_root"), output)
            if result.returncode == 0:
                done.touch()
            else:
                failed.write_text(f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    assert not failed.exists(), f"book build failed\n{failed.read_text()}"
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
