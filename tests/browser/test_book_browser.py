"""The built book works in a real browser: landing page, an executed lesson with its figure, search.

Builds the book on the tiny profile with ``book/build.py`` (as ``tests/notebooks/test_book_build.py``
does) into a temporary folder, serves the HTML on 127.0.0.1 from a thread, and drives headless
Chromium with Playwright.

Why Playwright rather than Selenium: it talks to Chromium over a pipe (CDP), so it needs only the
``chromium`` binary, not a ``chromedriver`` whose version must match the browser; it waits for
elements itself (Sphinx search renders its results from JavaScript); and it can route every request,
so the test also proves that the pages fetch nothing from the network. ``playwright install`` is
never needed: the test launches the system browser (Debian's ``/usr/bin/chromium``, or
``$STATELAB_CHROMIUM``).

Skips, with the reason, when the browser or the ``playwright`` package is missing.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from axe_audit import missing_browser

LESSON = "modules/01-orientation/01-working-with-confidential-data.html"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Known, harmless upstream noise: sphinx-thebe (pulled in by Jupyter Book 1) writes its inline config
# script (`const THEBE_JS_URL = ...`) into every page twice, so the second copy throws. Thebe is off
# in _config.yml and the URL is never fetched (the request routing below would catch it).
KNOWN_JS_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)

pytestmark = pytest.mark.slow

# Decide before the (slow) book build whether the browser can run at all.
if reason := missing_browser():
    pytest.skip(f"browser check skipped: {reason}", allow_module_level=True)


# --------------------------------------------------------------------------- fixtures
# book_html, base_url and browser come from conftest.py (shared with the accessibility tests).

class PageProbe:
    """A fresh browser context and page that records JS errors, failed loads and off-host requests."""

    def __init__(self, browser, base_url: str) -> None:
        self.base_url = base_url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(30_000)
        self.js_errors: list[str] = []
        self.bad_responses: list[str] = []
        self.remote_requests: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", self._on_pageerror)
        self.page.on("response", self._on_response)
        self.page.on("requestfailed", self._on_requestfailed)

    def _route(self, route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https") and not url.startswith(self.base_url + "/"):
            self.remote_requests.append(url)
            route.abort()
        else:
            route.continue_()

    def _on_requestfailed(self, request) -> None:
        # ERR_ABORTED is a cancellation, not a failure: Sphinx search fetches every result page for
        # its summary, and following a result cancels the fetches still in flight. Requests that
        # leave the host are aborted by _route and recorded in remote_requests instead.
        if request.failure != "net::ERR_ABORTED":
            self.bad_responses.append(f"{request.url}: {request.failure}")

    def _on_pageerror(self, exc) -> None:
        message = getattr(exc, "message", None) or str(exc)
        if message not in KNOWN_JS_ERRORS:
            self.js_errors.append(message)

    def _on_response(self, response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.bad_responses.append(f"{response.url}: HTTP {response.status}")

    def goto(self, path: str):
        response = self.page.goto(f"{self.base_url}/{path}", wait_until="load")
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        return self.page

    def assert_clean(self) -> None:
        assert not self.js_errors, f"JavaScript errors: {self.js_errors}"
        assert not self.remote_requests, f"the page tried to fetch remote resources: {self.remote_requests}"
        # requests aborted by the route above are already reported as remote requests
        failed = [r for r in self.bad_responses if not any(r.startswith(u) for u in self.remote_requests)]
        assert not failed, f"resources failed to load: {failed}"


@pytest.fixture()
def probe(browser, base_url: str) -> Iterator[PageProbe]:
    p = PageProbe(browser, base_url)
    try:
        yield p
    finally:
        p.context.close()


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0 and len(data) > 2000, f"{path}: {width}x{height}, {len(data)} bytes"


# --------------------------------------------------------------------------- tests

def test_landing_page_renders(probe: PageProbe, tmp_path: Path) -> None:
    page = probe.goto("")  # index.html redirects to the root page
    page.wait_for_url("**/intro.html")
    assert "statelab" in page.title()
    heading = page.locator("article.bd-article h1").first
    heading.wait_for(state="visible")
    assert "statelab" in heading.inner_text()

    nav = page.locator("nav.bd-docs-nav")
    nav.wait_for(state="visible")
    links = nav.locator("a.reference.internal")
    assert links.count() >= 5, "the sidebar navigation lists too few pages"
    assert nav.locator(f'a[href$="{LESSON}"]').count() == 1, "the sidebar does not list the orientation lesson"

    shot = tmp_path / "landing.png"
    page.screenshot(path=str(shot), full_page=True)
    _assert_png(shot)

    # navigation works: the training chapter, then (its section now expanded) the lesson
    nav.locator('a[href$="training/index.html"]').click()
    page.wait_for_url("**/training/index.html")
    lesson_link = page.locator("nav.bd-docs-nav").locator(f'a[href$="{LESSON}"]')
    lesson_link.wait_for(state="visible")
    lesson_link.click()
    page.wait_for_url(f"**/{LESSON}")
    assert page.locator("article.bd-article h1").first.is_visible()
    probe.assert_clean()


def test_lesson_page_shows_its_figure(probe: PageProbe, tmp_path: Path) -> None:
    page = probe.goto(LESSON)
    assert page.locator("article.bd-article h1").first.inner_text().strip()
    figures = page.locator("main .cell_output img")
    assert figures.count() >= 1, "the executed lesson shows no figure"
    # wait until every image has finished loading, then check each really decoded with alt text
    page.wait_for_function("() => Array.from(document.querySelectorAll('main .cell_output img')).every(i => i.complete)")
    images = figures.evaluate_all(
        "imgs => imgs.map(i => ({src: i.currentSrc.slice(0, 60), w: i.naturalWidth, h: i.naturalHeight, alt: i.getAttribute('alt')}))"
    )
    for img in images:
        assert img["w"] > 0 and img["h"] > 0, f"figure did not load: {img}"
        assert (img["alt"] or "").strip(), f"figure has no alt text: {img}"
    assert figures.first.is_visible()
    # tables formatted for people (statelab.tables, a pandas Styler) carry no 'dataframe' class: a <table>
    # with header cells is a rendered table
    assert page.locator("main .cell_output table:has(th)").count() >= 1, "the lesson shows no rendered table"

    figures.first.scroll_into_view_if_needed()
    shot = tmp_path / "lesson.png"  # the viewport, showing the first figure
    page.screenshot(path=str(shot))
    _assert_png(shot)
    probe.assert_clean()


def test_search_finds_wage(probe: PageProbe) -> None:
    page = probe.goto("search.html?q=wage")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(state="attached")  # Sphinx search runs in JavaScript
    page.locator("#search-results p.search-summary").wait_for(state="attached")
    assert results.count() >= 1
    hrefs = results.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert any(h and ".html" in h for h in hrefs), f"search results link no pages: {hrefs}"
    # a result opens its page
    first = results.locator("a").first
    first.click()
    page.wait_for_load_state("load")
    assert "search.html" not in page.url
    probe.assert_clean()
