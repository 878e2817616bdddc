"""Audit HTML pages with axe-core in headless Chromium: ``audit(paths_or_urls) -> list of Violation``.

axe-core comes from the npm registry (``.ci/run`` installs it with ``npm install --prefix
"$STATELAB_CI_TOOLS" axe-core@<AXE_VERSION>``) and is injected into each page from that folder: nothing is
fetched from a CDN. The browser is the system Chromium driven by Playwright (never ``playwright install``).

The rules run are every axe rule tagged WCAG 2.0 or 2.1, level A or AA, *including* the rules axe marks
experimental (``label-content-name-mismatch`` is one: axe leaves experimental rules out of a run by tag, so
the rule ids are listed explicitly). Only rules axe itself deprecates are left out. No rule is disabled.

Used by ``tests/browser/test_axe.py`` and as one command for anyone who builds the book::

    python tests/browser/axe_audit.py book/_build/html            # every page of a built book
    python tests/browser/axe_audit.py feedback/ report.html --dark  # any HTML files, also in dark mode

Each page is loaded once and audited in light, then switched to dark (with ``--dark``) and audited again
(``Auditor``).

Exit codes: 0 no violations; 1 violations (one line each: page, rule, element); 2 bad arguments (a path
that does not exist or holds no HTML); 3 Chromium, Playwright or axe-core missing (the message says how to
install it).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The axe-core release `.ci/run` installs (``npm install axe-core@AXE_VERSION``).
AXE_VERSION = "4.14.1"
#: WCAG 2.0 and 2.1, levels A and AA: what the 2024 ADA Title II rule requires of state web content.
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
CHROMIUM_ARGS = (
    # root in a container, on a closed network (see /work/shared/environment-notes.md)
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
#: Folders of a built Sphinx/Jupyter Book site that hold assets, not pages.
ASSET_DIRS = frozenset({"_static", "_sources", "_images", "_sphinx_design_static", "jupyter_execute", "_downloads"})

_RUN_AXE = """async (tags) => {
  const ids = axe.getRules(tags).filter(r => !r.tags.includes('deprecated')).map(r => r.ruleId);
  const result = await axe.run(document, {runOnly: {type: 'rule', values: ids}, resultTypes: ['violations']});
  return {version: axe.version, rules: ids.length, violations: result.violations.map(v => ({
    rule: v.id, impact: v.impact || '', help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), html: n.html,
      detail: (n.any.concat(n.all, n.none).map(c => c.message).filter(Boolean)[0] || '')}))}))};
}"""


class AuditUnavailable(RuntimeError):
    """Chromium, Playwright or axe-core is missing; the message says what to install."""


@dataclass(frozen=True)
class Violation:
    """One element that breaks one axe rule on one page."""

    page: str
    rule: str
    impact: str
    help: str
    target: str
    html: str
    scheme: str = "light"
    detail: str = ""

    def __str__(self) -> str:
        snippet = " ".join(self.html.split())[:160]
        mode = "" if self.scheme == "light" else f" [{self.scheme}]"
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.page}{mode}: {self.rule} ({self.impact}) at {self.target}: {self.help}{detail} -- {snippet}"


# ------------------------------------------------------------------------------------- tools
def chromium_path() -> Path:
    return Path(os.environ.get("STATELAB_CHROMIUM", "/usr/bin/chromium"))


def axe_script_path() -> Path | None:
    """``axe.min.js`` from ``$STATELAB_AXE_JS``, ``$STATELAB_CI_TOOLS`` or the repository's ``.ci/tools``."""
    if os.environ.get("STATELAB_AXE_JS"):
        given = Path(os.environ["STATELAB_AXE_JS"])
        return given if given.is_file() else None
    tools = [Path(os.environ["STATELAB_CI_TOOLS"])] if os.environ.get("STATELAB_CI_TOOLS") else []
    for folder in [*tools, REPO_ROOT / ".ci" / "tools"]:
        candidate = folder / "node_modules" / "axe-core" / "axe.min.js"
        if candidate.is_file():
            return candidate
    return None


def missing_browser() -> str | None:
    """Why Chromium cannot be driven here (no Chromium, no Playwright), or None."""
    chromium = chromium_path()
    if not (chromium.is_file() and os.access(chromium, os.X_OK)):
        return (f"no Chromium at {chromium} (Debian: apt-get install chromium; or set STATELAB_CHROMIUM to a "
                "Chromium/Chrome binary)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the 'playwright' Python package is not installed (pip install -e '.[test]'; never 'playwright install')"
    return None


def missing_tools() -> str | None:
    """Why an audit cannot run here, or None when Chromium, Playwright and axe-core are all present."""
    if reason := missing_browser():
        return reason
    if axe_script_path() is None:
        return (f"axe-core is not installed (npm install --prefix .ci/tools axe-core@{AXE_VERSION}, or set "
                "STATELAB_AXE_JS to axe.min.js)")
    return None


# ------------------------------------------------------------------------------------ targets
def html_pages(folder: Path) -> list[Path]:
    """Every HTML page under ``folder`` (relative paths, sorted), leaving out asset folders."""
    folder = Path(folder)
    return sorted(p.relative_to(folder) for p in folder.rglob("*.html")
                  if not ASSET_DIRS.intersection(p.relative_to(folder).parts[:-1]))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="axe-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -------------------------------------------------------------------------------------- audit
#: The window every page is audited in.
VIEWPORT = {"width": 1280, "height": 900}

#: Runs in every new document before the page's own scripts. The auditor keeps one browser page for every
#: page it audits (see ``Auditor``), and web storage is what a page could carry to the next: the book's
#: theme (pydata-sphinx-theme) stores the color mode and theme in localStorage, and the sidebar's scroll
#: position in sessionStorage as the page unloads. Each page starts with both empty, as in a new browser.
_FORGET_WEB_STORAGE = "try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}"

#: Waits until the page has settled, then says whether it is in ``scheme``: the media query matches, and
#: the ``data-theme``/``data-mode`` attributes a theme resolves ("auto" into "light" or "dark") on
#: ``<html>``, where present, read that scheme (or "auto", which follows the media query).
_SETTLE = """async (scheme) => {
  const frame = () => new Promise(resolve => requestAnimationFrame(() => resolve()));
  // What follows waits for conditions, never for a set time, but for at most 10 s in all: the bound the
  // audit's old wait for an idle network had. A page that has not settled by then is audited as it stands.
  const deadline = new Promise(resolve => setTimeout(resolve, 10000));
  let late = false;
  deadline.then(() => { late = true; });
  const settled = (promises) => Promise.race([Promise.all(promises.map(p => p.catch(() => {}))), deadline]);
  // Media-query change listeners (the theme switching to dark), requestAnimationFrame work (the icons the
  // theme's Font Awesome script draws) and IntersectionObserver callbacks (the table of contents' current
  // entry) all run in the next rendering update: after two frames and one task they have run.
  await frame();
  await frame();
  await new Promise(resolve => setTimeout(resolve, 0));
  // Images that started loading after `load` (a <picture> source for the other scheme).
  await settled(Array.from(document.images).filter(img => !img.complete && img.loading !== 'lazy')
    .map(img => new Promise(resolve => {
      img.addEventListener('load', resolve, {once: true});
      img.addEventListener('error', resolve, {once: true});
    })));
  // CSS transitions and animations that end: the theme's colors fade to the new scheme (the search
  // button's, in 0.15 s) and text fades in as a page loads (0.3 s). Audited mid-way, a color is neither
  // scheme's. Endless ones (a spinner) are not waited for; one that starts another is (a few rounds).
  for (let round = 0; round < 5 && !late; round++) {
    const ending = document.getAnimations().filter(a => a.playState === 'running'
      && Number.isFinite(a.effect?.getComputedTiming().endTime));
    if (!ending.length) break;
    await settled(ending.map(a => a.finished));
    await frame();
  }
  await settled([document.fonts.ready]);
  const data = document.documentElement.dataset;
  return matchMedia(`(prefers-color-scheme: ${scheme})`).matches
    && ['theme', 'mode'].every(k => !(k in data) || data[k] === scheme || data[k] === 'auto');
}"""


class Auditor:
    """A Chromium session that audits one URL at a time (use as a context manager).

    Each page is loaded once and audited in every color scheme asked for: in the first, then again after
    the emulated ``prefers-color-scheme`` is switched to the next, once the page is confirmed to be in that
    scheme (``_SETTLE``). A page that does not follow the switch is loaded again in that scheme and audited
    as it loads; ``reloads`` lists those (page name, scheme).
    """

    def __init__(self, *, color_schemes: Sequence[str] = ("light",), timeout_ms: int = 120_000) -> None:
        reason = missing_tools()
        if reason:
            raise AuditUnavailable(reason)
        self.color_schemes = tuple(color_schemes)
        self.timeout_ms = timeout_ms
        self.axe_source = axe_script_path().read_text(encoding="utf-8")
        self.axe_version = ""
        self.rule_count = 0
        self.reloads: list[tuple[str, str]] = []
        self._page = self._cdp = None
        self._origin = ""  # netloc of the page under audit: requests to any other host are aborted
        self._last_url = ""
        self._expect_navigation = False

    def __enter__(self) -> Auditor:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=str(chromium_path()), headless=True,
                                                     args=list(CHROMIUM_ARGS), timeout=60_000)
            # One context (and one page, see _fresh_page) for every page audited: a new context per page
            # cost more than the page's load, and pages of one origin then share Chromium's in-memory copies
            # of the book's CSS and scripts (the same bytes from the same folder). Nothing else carries
            # over: the viewport is fixed here, the color scheme is set before each load, web storage is
            # emptied as each document starts, cookies and the origin's other storage are cleared between
            # pages, no service worker can register, and pages a page opened are closed.
            self._context = self._browser.new_context(viewport=VIEWPORT, service_workers="block")
            self._context.set_default_timeout(self.timeout_ms)
            self._context.add_init_script(_FORGET_WEB_STORAGE)
            self._context.route("**/*", self._route)
        except Exception:
            self._pw.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._browser.close()
        self._pw.stop()

    def _route(self, r) -> None:
        target = urlsplit(r.request.url)
        if target.scheme in ("http", "https") and target.netloc != self._origin:
            r.abort()  # no network: a page that needs a remote asset is audited without it
        elif r.request.is_navigation_request() and r.request.frame.parent_frame is None:
            # Only the first, the load of the page under audit, goes on. (Told apart by order, not by
            # whether `goto` has returned yet: a redirect made as the page loads may reach this handler
            # before the `load` event reaches Python.)
            if self._expect_navigation:
                self._expect_navigation = False
                r.continue_()
            else:
                # stay on the page under audit, so a redirect page is audited as itself: a 204 answer
                # leaves the page as it is (an aborted navigation would show Chromium's error page)
                r.fulfill(status=204, body="")
        else:
            r.continue_()

    def audit_url(self, url: str, *, name: str | None = None,
                  color_schemes: Sequence[str] | None = None) -> list[Violation]:
        """Violations on the page at ``url`` in each color scheme (default: the auditor's); ``name`` is how
        reports call the page."""
        schemes = tuple(color_schemes or self.color_schemes)
        name = name or url
        found: list[Violation] = []
        try:
            self._load(url, schemes[0])
            found += self._run_axe(name, schemes[0])
            for scheme in schemes[1:]:
                if not self._switch(scheme):
                    self.reloads.append((name, scheme))
                    self._load(url, scheme)
                found += self._run_axe(name, scheme)
        except BaseException:
            self._discard_page()  # a page left half-way (crashed, hung) is not reused
            raise
        return found

    def _load(self, url: str, scheme: str) -> None:
        """A fresh document of ``url`` in ``scheme``, settled, with axe-core injected."""
        page = self._fresh_page()
        self._origin, self._last_url = urlsplit(url).netloc, url
        page.emulate_media(color_scheme=scheme)
        self._expect_navigation = True
        page.goto(url, wait_until="load")
        self._expect_navigation = False
        page.evaluate(_SETTLE, scheme)  # audited as it stands even if it did not take the scheme, as before
        page.add_script_tag(content=self.axe_source)

    def _switch(self, scheme: str) -> bool:
        """Switch the loaded page to ``scheme``; whether it is now in that scheme."""
        self._page.emulate_media(color_scheme=scheme)
        return self._page.evaluate(_SETTLE, scheme)

    def _fresh_page(self):
        """The auditor's page, emptied of the last page audited (or a new page)."""
        if self._page is None:
            self._page = self._context.new_page()
            self._cdp = self._context.new_cdp_session(self._page)
            return self._page
        # Leave the last page first, so what it writes as it unloads is written before it is cleared.
        self._page.goto("about:blank")
        for other in self._context.pages:
            if other is not self._page:
                other.close()  # a window the last page opened
        self._context.clear_cookies()
        last = urlsplit(self._last_url)
        if last.scheme in ("http", "https"):  # IndexedDB, Cache Storage and the like of the last page's origin
            self._cdp.send("Storage.clearDataForOrigin",
                           {"origin": f"{last.scheme}://{last.netloc}", "storageTypes": "all"})
        return self._page

    def _discard_page(self) -> None:
        page, self._page, self._cdp = self._page, None, None
        self._expect_navigation = False
        if page is not None:
            try:
                page.close()
            except Exception:  # noqa: BLE001 (a crashed page may not close cleanly; a new one is opened)
                pass

    def _run_axe(self, name: str, scheme: str) -> list[Violation]:
        result = self._page.evaluate(_RUN_AXE, list(WCAG_TAGS))
        self.axe_version, self.rule_count = result["version"], result["rules"]
        return [Violation(name, v["rule"], v["impact"], v["help"], n["target"], n["html"], scheme, n["detail"])
                for v in result["violations"] for n in v["nodes"]]


def audit(targets: Iterable[str | os.PathLike[str]], *, color_schemes: Sequence[str] = ("light",),
          progress: bool = False) -> list[Violation]:
    """Audit every target and return all violations (an empty list means every page passed).

    A target is a URL, an HTML file (opened as ``file://``), or a folder: a folder is served over HTTP on
    127.0.0.1 (as a deployed site would be) and every page in it is audited (see :func:`html_pages`).

    Raises
    ------
    AuditUnavailable
        Chromium, Playwright or axe-core is missing.
    FileNotFoundError
        A path target does not exist.
    """
    targets = list(targets)
    for t in targets:
        if not _is_url(t) and not Path(t).exists():
            raise FileNotFoundError(f"no such file or folder to audit: {t}")
    found: list[Violation] = []
    with Auditor(color_schemes=color_schemes) as auditor:
        for t in targets:
            if _is_url(t):
                found += auditor.audit_url(str(t))
            elif Path(t).is_dir():
                pages = html_pages(Path(t))
                with serve(Path(t)) as base:
                    for i, rel in enumerate(pages, 1):
                        if progress:
                            print(f"[{i}/{len(pages)}] {rel.as_posix()}", file=sys.stderr, flush=True)
                        found += auditor.audit_url(f"{base}/{rel.as_posix()}", name=rel.as_posix())
            else:
                found += auditor.audit_url(Path(t).resolve().as_uri(), name=str(t))
    return found


def _is_url(target: object) -> bool:
    return isinstance(target, str) and urlsplit(target).scheme in ("http", "https", "file")


def summarize(violations: Sequence[Violation]) -> str:
    """One line per violation, then a count by rule."""
    by_rule: dict[str, set[str]] = {}
    for v in violations:
        by_rule.setdefault(v.rule, set()).add(v.page)
    lines = [str(v) for v in violations]
    lines += [f"{rule}: {sum(v.rule == rule for v in violations)} elements on {len(pages)} pages"
              for rule, pages in sorted(by_rule.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Audit HTML pages with axe-core (WCAG 2.0/2.1 A and AA) in Chromium.")
    p.add_argument("targets", nargs="+", help="HTML files, folders of HTML (e.g. book/_build/html) or URLs")
    p.add_argument("--dark", action="store_true", help="also audit every page in the dark color scheme")
    args = p.parse_args(argv)
    missing = [t for t in args.targets if not _is_url(t) and not Path(t).exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    empty = [t for t in args.targets if not _is_url(t) and Path(t).is_dir() and not html_pages(Path(t))]
    if empty:
        print(f"error: no HTML pages in {', '.join(empty)} (build the book first: python book/build.py)",
              file=sys.stderr)
        return 2
    try:
        violations = audit(args.targets, color_schemes=("light", "dark") if args.dark else ("light",),
                           progress=True)
    except AuditUnavailable as err:
        print(f"error: cannot audit: {err}", file=sys.stderr)
        return 3
    if violations:
        print(summarize(violations))
        return 1
    print(f"no accessibility violations (axe-core, WCAG 2.0/2.1 A and AA) in {', '.join(args.targets)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
