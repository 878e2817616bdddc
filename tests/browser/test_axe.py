"""Every page of the built book passes axe-core's WCAG 2.0/2.1 A and AA rules, in light and dark mode.

axe-core runs in headless Chromium (``axe_audit.py``), injected from the npm package `.ci/run` installs;
nothing is fetched from a CDN. The book is the one ``conftest.py`` builds on the tiny profile, or the build
named by ``STATELAB_BOOK_HTML`` (``STATELAB_BOOK_HTML=book/_build/html`` checks the course build on the
default profile). A failure names the page, the rule and the element. The book's pages are audited in
``BOOK_CHUNKS`` tests, so pytest-xdist's workers share them; each page is loaded once and audited in light,
then switched to dark and audited again.

Skips, with the reason, when Chromium, Playwright or axe-core is missing.
"""

from __future__ import annotations

import html.parser
from pathlib import Path

import pytest

from axe_audit import AXE_VERSION, Auditor, html_pages, missing_tools, serve, summarize

pytestmark = pytest.mark.slow

if reason := missing_tools():
    pytest.skip(f"accessibility audit skipped: {reason}", allow_module_level=True)

#: How many tests the book's pages are audited in (every ``BOOK_CHUNKS``-th page of the sorted list each).
BOOK_CHUNKS = 6

#: Pages a learner opens first: each must be among the audited ones.
MUST_AUDIT = ("index.html", "intro.html", "search.html", "genindex.html", "references.html",
              "modules/01-orientation/01-working-with-confidential-data.html")

#: One fault for each rule the issue found on every page (plus a missing language), in one page: the
#: audit must report each, or a passing book would prove nothing.
KNOWN_BAD = """<!DOCTYPE html><html><head><title>Known faults</title></head><body><main><h1>Faults</h1>
<details><summary><span role="presentation"></span></summary><p>Hidden pages</p></details>
<button aria-label="Search">Search Ctrl+K</button>
<div role="list"><div role="doc-biblioentry">A citation</div></div>
<p style="color:#BBBBBB">Light gray text on white.</p>
<style>.gray-in-dark { transition: color 0.4s linear; }
@media (prefers-color-scheme: dark) { .gray-in-dark { color: #AAAAAA; } }</style>
<p class="gray-in-dark">Light gray on white in dark mode only, once it has faded from black.</p>
</main></body></html>"""

#: Pages whose text is light gray on white only when the page is dark, the way the book's theme makes it
#: dark: a script sets ``data-theme`` from the media query. One follows a change of scheme (as the theme
#: does), so switching a loaded page to dark must find the fault without loading the page again; one sets
#: it only as it loads, so the switch must be seen not to have taken, and the page loaded again in dark.
THEMED = """<!DOCTYPE html><html lang="en"><head><title>Themed</title>
<style>html[data-theme="dark"] .gray-in-dark { color: #AAAAAA; }</style>
<script>
const dark = matchMedia("(prefers-color-scheme: dark)");
const resolve = () => { document.documentElement.dataset.theme = dark.matches ? "dark" : "light"; };
resolve();
if (FOLLOWS) dark.addEventListener("change", resolve);
</script></head><body><main><h1>Themed</h1><p class="gray-in-dark">Light gray in dark mode only.</p>
</main></body></html>"""


@pytest.fixture(scope="module")
def auditor():
    with Auditor(color_schemes=("light", "dark")) as a:
        yield a


def test_audit_reports_each_known_fault(auditor, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(KNOWN_BAD, encoding="utf-8")
    reloads = len(auditor.reloads)
    found = auditor.audit_url(page.as_uri(), name="bad.html")
    assert auditor.axe_version == AXE_VERSION, f"axe-core {auditor.axe_version} installed, tests expect {AXE_VERSION}"
    assert auditor.rule_count >= 50, f"only {auditor.rule_count} WCAG rules ran"
    rules = {v.rule for v in found}
    expected = {"summary-name", "label-content-name-mismatch", "aria-required-children", "aria-deprecated-role",
                "html-has-lang", "color-contrast"}
    assert rules == expected, summarize(found)
    assert {v.scheme for v in found} == {"light", "dark"}
    assert all(v.page == "bad.html" and v.target for v in found)
    # the same faults in both schemes, plus, in dark only, the text styled for dark mode
    light = {(v.rule, v.html) for v in found if v.scheme == "light"}
    dark = {(v.rule, v.html) for v in found if v.scheme == "dark"}
    assert [(rule, "gray-in-dark" in html) for rule, html in dark - light] == [("color-contrast", True)], \
        summarize(found)
    assert light < dark, summarize(found)
    assert len(auditor.reloads) == reloads, "the page was loaded again instead of switched to dark"


@pytest.mark.parametrize("follows", [True, False], ids=["follows-the-switch", "set-on-load-only"])
def test_dark_mode_is_confirmed_or_the_page_loaded_again(auditor, tmp_path, follows: bool):
    page = tmp_path / "themed.html"
    page.write_text(THEMED.replace("FOLLOWS", str(follows).lower()), encoding="utf-8")
    reloads = list(auditor.reloads)
    found = auditor.audit_url(page.as_uri(), name="themed.html")
    assert [(v.scheme, v.rule, "gray-in-dark" in v.html) for v in found] == [("dark", "color-contrast", True)], \
        summarize(found)
    assert auditor.reloads[len(reloads):] == ([] if follows else [("themed.html", "dark")])


def test_a_redirect_page_is_audited_as_itself(auditor, tmp_path):
    """The landing page sends the reader on (``<meta http-equiv="Refresh">``): what is audited is the page
    itself, here one without a language, not the complete page it leads to."""
    (tmp_path / "index.html").write_text('<!DOCTYPE html><html><head><title>Landing</title>'
                                         '<meta http-equiv="Refresh" content="0; url=target.html"></head>'
                                         '<body><main><h1>Landing</h1></main></body></html>', encoding="utf-8")
    (tmp_path / "target.html").write_text('<!DOCTYPE html><html lang="en"><head><title>Target</title></head>'
                                          '<body><main><h1>Target</h1></main></body></html>', encoding="utf-8")
    with serve(tmp_path) as base:
        found = auditor.audit_url(f"{base}/index.html", name="index.html")
    assert sorted((v.scheme, v.rule) for v in found) == [("dark", "html-has-lang"), ("light", "html-has-lang")], \
        summarize(found)


def _book_chunks(book_html: Path) -> list[list[str]]:
    """The book's pages in ``BOOK_CHUNKS`` lists: page i of the sorted list in list i % BOOK_CHUNKS, so a
    page's list depends only on the book's pages, on every xdist worker alike."""
    pages = [p.as_posix() for p in html_pages(book_html)]
    missing = [p for p in MUST_AUDIT if p not in pages]
    assert not missing, f"pages not found in the built book: {missing}"
    return [pages[i::BOOK_CHUNKS] for i in range(BOOK_CHUNKS)]


def test_book_chunks_cover_every_page_once(book_html: Path):
    chunks = _book_chunks(book_html)
    audited = [p for chunk in chunks for p in chunk]
    assert sorted(audited) == sorted(p.as_posix() for p in html_pages(book_html))  # each page, exactly once
    assert all(chunks), "a chunk with no page: fewer pages than BOOK_CHUNKS"
    assert max(map(len, chunks)) - min(map(len, chunks)) <= 1


# one test per chunk, so xdist's workers share the audit; light and dark in each
@pytest.mark.parametrize("chunk", range(BOOK_CHUNKS), ids=lambda i: f"pages-{i + 1}-of-{BOOK_CHUNKS}")
def test_every_book_page_passes_axe(auditor, book_html: Path, base_url: str, chunk: int):
    violations = []
    for rel in _book_chunks(book_html)[chunk]:
        violations += auditor.audit_url(f"{base_url}/{rel}", name=rel, color_schemes=("light", "dark"))
    assert not violations, f"{len(violations)} accessibility violations in the book:\n{summarize(violations)}"


class _Images(html.parser.HTMLParser):
    """``<img>`` tags inside notebook cell outputs, and the page's ``<html lang>`` and ``<title>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict] = []
        self.lang = ""
        self.title = ""
        self.links: list[str] = []
        self._output_depth = 0
        self._stack: list[bool] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang") or ""
        if tag == "title":
            self._in_title = True
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and self._output_depth:
            self.images.append(attrs)
        if tag == "div":
            opens = "cell_output" in (attrs.get("class") or "").split()
            self._stack.append(opens)
            self._output_depth += opens

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "div" and self._stack:
            self._output_depth -= self._stack.pop()

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def _parse(path: Path) -> _Images:
    parser = _Images()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_figure_in_the_book_states_its_finding(book_html: Path):
    from statelab import plotting

    figures, refused = 0, []
    for rel in html_pages(book_html):
        for img in _parse(book_html / rel).images:
            figures += 1
            try:
                plotting.check_alt(img.get("alt"))
            except (TypeError, ValueError) as err:
                refused.append(f"{rel}: {err}")
    assert figures >= 10, f"only {figures} figures found in notebook outputs"
    assert not refused, "figures whose alt text does not state a finding:\n" + "\n".join(refused)


def test_landing_page_is_a_complete_page(book_html: Path):
    landing = _parse(book_html / "index.html")
    assert landing.lang == "en" and landing.title.strip().startswith("statelab")
    assert "intro.html" in landing.links, "the landing page has no link to follow without the redirect"
