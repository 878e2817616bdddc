"""The book reads like a textbook in Chromium: nothing overflows the content column, every page type has a
screenshot among the test artifacts, and the launch buttons appear exactly when the course settings name them.

* **Overflow.** Every page of the built book (tiny profile) is opened at 1280 × 900; no code cell, code block
  or table may be wider than the content column or scroll sideways inside it, because a learner would not
  see the end of the line. Pages made from notebooks still on ``nbrules.LINE_LENGTH_PENDING`` are left out
  until their lesson engineer wraps the lines (the list only shrinks).
* **Screenshots.** One full-page PNG per page type (landing page, syllabus, lesson, practice, primer with a
  collapsed answer, project notebook, glossary, codebook, instructor guide, search), plus a lesson on a
  phone-sized screen, in ``$STATELAB_TEST_ARTIFACTS/screenshots`` (default ``test-artifacts/`` in the
  repository), for a person to look at.
* **Launch links.** A small book built with the real configuration and extensions, once with the course
  settings given as environment variables and once without: the Binder and JupyterHub links (nbgitpuller) and
  the repository link are on a notebook page when set and absent when not, and the laptop page's clone
  command carries the configured address.

The full book is built once per run by ``test_book_browser.py``'s fixture, shared here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import nbrules  # noqa: E402
from test_book_browser import PageProbe, _assert_png, probe  # noqa: E402,F401  (other fixtures: conftest.py)

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "book" / "build.py"
ARTIFACTS = Path(os.environ.get("STATELAB_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts") / "screenshots"
SKIP_PAGES = {"search.html", "genindex.html"}

#: One page of each type a learner or an instructor meets (file under the built HTML, screenshot name).
PAGE_TYPES = {
    "landing": "intro.html",
    "syllabus": "training/syllabus.html",
    "lesson": "modules/01-orientation/01-working-with-confidential-data.html",
    "practice": "modules/02-eda-with-sql/02-practice.html",
    "primer-with-check": "modules/00-prework/01-sql-primer.html",
    "project-notebook": "modules/project/02-export-package.html",
    "glossary": "glossary.html",
    "codebook": "generated/codebook.html",
    "instructor-guide": "instructor/running-the-course.html",
    "search": "search.html?q=cohort",
}

#: Elements that must fit the content column, and the script that measures them on a page.
_MEASURE = """
() => {
  const article = document.querySelector('article.bd-article');
  if (!article) return {missing: true, problems: []};
  // open what a learner can open (hidden cells, collapsed outputs and answers): it must fit too
  for (const d of article.querySelectorAll("details")) d.open = true;
  const limit = article.getBoundingClientRect().right + 1;
  const problems = [];
  const seen = new Set();
  const selectors = ['div.cell_input pre', 'div.highlight pre', 'div.cell_output pre', 'table'];
  for (const el of article.querySelectorAll(selectors.join(','))) {
    if (seen.has(el)) continue;
    seen.add(el);
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;                         // collapsed (a hidden answer or input)
    let scroller = el, scrolls = false;
    for (let i = 0; i < 3 && scroller && scroller !== article; i++, scroller = scroller.parentElement) {
      if (scroller.scrollWidth > scroller.clientWidth + 1) { scrolls = true; break; }
    }
    if (box.right > limit || scrolls) {
      const kind = el.tagName === 'TABLE' ? 'table' : (el.closest('div.cell_output') ? 'output' : 'code');
      const text = (el.innerText || '').split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      problems.push({kind, width: Math.round(Math.max(box.width, el.scrollWidth)),
                     column: Math.round(article.getBoundingClientRect().width), text: text.slice(0, 120)});
    }
  }
  return {missing: false, problems};
}
"""


_REDIRECT = re.compile(r"<meta[^>]+http-equiv=[\"']?refresh", re.I)


def _source_notebook(page: str) -> str | None:
    """The notebook (repository path) a built page was made from, if any."""
    stem = page.removesuffix(".html")
    for candidate in (f"{stem}.ipynb", f"book/{stem}.ipynb"):
        if (REPO_ROOT / candidate).is_file():
            return candidate
    return None


def _pages(html: Path) -> list[str]:
    pages = []
    for path in sorted(html.rglob("*.html")):
        rel = path.relative_to(html).as_posix()
        if rel.startswith(("_", "generated/assignments/")) or rel in SKIP_PAGES:
            continue
        if _REDIRECT.search(path.read_text(encoding="utf-8", errors="replace")[:2000]):
            continue  # a redirect page (index.html): it navigates away while being measured
        pages.append(rel)
    return pages


# The column is 736px at 1280px (book/_static/statelab.css): code at 13px shows 89 characters, more than the
# notebooks' 88 (nbrules.MAX_CODE_LINE); printed output wraps; tables use labels that wrap (tables.format_table).
def test_no_code_cell_or_table_overflows_the_content_column(book_html: Path, browser, base_url: str) -> None:
    checked, excused, problems = 0, [], []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda route: route.abort() if not route.request.url.startswith(base_url)
                  else route.continue_())
    page = context.new_page()
    try:
        for rel in _pages(book_html):
            source = _source_notebook(rel)
            if source in nbrules.LINE_LENGTH_PENDING:
                excused.append(rel)
                continue
            page.goto(f"{base_url}/{rel}", wait_until="load")
            found = page.evaluate(_MEASURE)
            if found["missing"]:
                continue  # a redirect page (index.html)
            checked += 1
            problems += [f"{rel}: {p['kind']} {p['width']}px in a {p['column']}px column: {p['text']!r}"
                         for p in found["problems"]]
    finally:
        context.close()
    assert checked >= 20, f"only {checked} pages were checked ({len(excused)} excused as pending)"
    assert not problems, "content wider than the column:\n  " + "\n  ".join(problems)


def test_the_measure_catches_overflow(browser, base_url: str) -> None:
    """The script above flags a long code line and a wide table, and passes a page that fits."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.set_content(
            "<main><article class='bd-article' style='width:600px'>"
            "<div class='cell_input'><pre style='overflow:auto'>" + "x" * 400 + "</pre></div>"
            "<table><tr>" + "<td>wide_cell_without_spaces_" + "y" * 120 + "</td>" * 1 + "</tr></table>"
            "<div class='highlight'><pre>short line</pre></div>"
            "</article></main>")
        found = page.evaluate(_MEASURE)
    finally:
        context.close()
    assert sorted(p["kind"] for p in found["problems"]) == ["code", "table"]


@pytest.mark.parametrize("kind", list(PAGE_TYPES))
def test_screenshot_of_each_page_type(kind: str, probe: PageProbe, book_html: Path) -> None:
    target = PAGE_TYPES[kind]
    assert (book_html / target.split("?")[0]).is_file(), f"{target} was not built"
    page = probe.goto(target)
    if kind == "search":
        page.locator("#search-results ul.search li").first.wait_for(state="attached")
    # the page's title: in article.bd-article, except on the search page (div.bd-search-container, no article)
    page.locator("article.bd-article h1, div.bd-search-container h1").first.wait_for(state="visible")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{kind}.png"
    page.screenshot(path=str(shot), full_page=True)
    _assert_png(shot)
    probe.assert_clean()


def test_screenshot_of_a_lesson_on_a_phone(browser, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    context.route("**/*", lambda route: route.abort() if not route.request.url.startswith(base_url)
                  else route.continue_())
    try:
        page = context.new_page()
        page.goto(f"{base_url}/{PAGE_TYPES['lesson']}", wait_until="load")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "lesson-phone.png"
        page.screenshot(path=str(shot))
        _assert_png(shot)
    finally:
        context.close()


def test_collapsed_answer_opens_only_when_asked(probe: PageProbe) -> None:
    page = probe.goto(PAGE_TYPES["primer-with-check"])
    # a collapsed answer in the lesson itself (the theme's download menu in the page header is a div.dropdown too)
    answer = page.locator("article.bd-article details.dropdown, article.bd-article div.dropdown").first
    answer.wait_for(state="attached")
    body = answer.locator("pre, p").last
    assert not body.is_visible(), "the worked answer is visible before the learner opens it"
    answer.locator("summary, .admonition-title, button").first.click()
    body.wait_for(state="visible")
    probe.assert_clean()


# ----------------------------------------------------------------------------- launch links

SETTINGS = {
    "STATELAB_REPOSITORY_URL": "https://github.com/example-agency/statelab",
    "STATELAB_REPOSITORY_BRANCH": "spring-2027",
    "STATELAB_BINDER_URL": "https://binder.example.org",
    "STATELAB_HUB_URL": "https://hub.example.gov",
}


def _mini_book(root: Path) -> Path:
    """A book with one notebook page and the laptop page, using the real configuration and extensions."""
    import shutil

    import nbformat

    book = root / "book"
    book.mkdir(parents=True)
    for name in ["_config.yml", "references.bib"]:
        shutil.copy(REPO_ROOT / "book" / name, book / name)
    for name in ["_ext", "_static"]:
        shutil.copytree(REPO_ROOT / "book" / name, book / name, ignore=shutil.ignore_patterns("__pycache__"))
    (book / "intro.md").write_text("# Mini book\n\nLaunch settings check.\n")
    (book / "laptop.md").write_text((REPO_ROOT / "book" / "start-here" / "running-on-a-laptop.md").read_text()
                                    .split("## Install")[0])
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n  - file: laptop\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A lesson"), nbformat.v4.new_code_cell("print(6 * 7)")]
    nbformat.write(nb, book / "page.ipynb")
    return book


def _build_mini(tiny_data_root: Path, root: Path, settings: dict) -> Path:
    import synthetic_data as sd

    book = _mini_book(root / "src")
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS and k != "STATELAB_COURSE_SETTINGS"}
    env.update(settings, STATELAB_DATA_DIR=str(tiny_data_root))
    cmd = [sys.executable, str(BUILD_SCRIPT), "--profile", "tiny", "--seed", str(sd.DEFAULT_SEED),
           "--data-root", str(tiny_data_root), "--source", str(book), "--output", str(root / "out")]
    result = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return root / "out" / "_build" / "html"


def _links(browser, html: Path, page_name: str) -> list[str]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
                  else route.continue_())
    try:
        page = context.new_page()
        page.goto((html / page_name).as_uri(), wait_until="load")
        return page.locator("header a, .article-header-buttons a, .header-article-items a").evaluate_all(
            "links => links.map(a => a.href)")
    finally:
        context.close()


def test_launch_links_come_from_the_course_settings(tiny_data_root: Path, tmp_path: Path, browser) -> None:
    html = _build_mini(tiny_data_root, tmp_path / "configured", SETTINGS)
    links = _links(browser, html, "page.html")
    binder = [h for h in links if h.startswith(SETTINGS["STATELAB_BINDER_URL"])]
    hub = [h for h in links if h.startswith(SETTINGS["STATELAB_HUB_URL"])]
    assert binder and "/v2/gh/example-agency/statelab/spring-2027" in binder[0], links
    assert hub and "/hub/user-redirect/git-pull?" in hub[0], links
    query = {k: v[0] for k, v in parse_qs(urlsplit(hub[0]).query).items()}
    # the hub pulls the configured repository into ~/statelab (nbgitpuller's default folder: the repository's
    # name, as binder/hub's configuration uses too) and opens this page's notebook there
    assert query["repo"] == SETTINGS["STATELAB_REPOSITORY_URL"] and query["branch"] == "spring-2027"
    assert query["urlpath"] == "lab/tree/statelab/book/page.ipynb"
    assert any(h.rstrip("/") == SETTINGS["STATELAB_REPOSITORY_URL"] for h in links), links
    laptop = re.sub(r"<[^>]+>", "", (html / "laptop.html").read_text(encoding="utf-8"))  # highlighted: text only
    assert "git clone --branch spring-2027 https://github.com/example-agency/statelab.git statelab" in laptop


def test_no_launch_links_without_settings(tiny_data_root: Path, tmp_path: Path, browser) -> None:
    html = _build_mini(tiny_data_root, tmp_path / "bare", {})  # the mini book has no course-settings.toml
    links = _links(browser, html, "page.html")
    assert not [h for h in links if "git-pull" in h or "/v2/gh/" in h], links
    assert "Ask your instructor for the course repository" in (html / "laptop.html").read_text(encoding="utf-8")


def test_a_bad_setting_stops_the_build_with_one_line(tiny_data_root: Path, tmp_path: Path) -> None:
    import synthetic_data as sd

    book = _mini_book(tmp_path / "src")
    env = dict(os.environ, STATELAB_HUB_URL="hub.example.gov", STATELAB_DATA_DIR=str(tiny_data_root))
    cmd = [sys.executable, str(BUILD_SCRIPT), "--profile", "tiny", "--seed", str(sd.DEFAULT_SEED),
           "--data-root", str(tiny_data_root), "--source", str(book), "--output", str(tmp_path / "out")]
    result = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode != 0
    assert "STATELAB_HUB_URL = 'hub.example.gov' is not an http(s) address" in result.stdout + result.stderr
