"""Keyboard access (WCAG 2.1.1 and 2.4.7), which axe-core cannot test: on a sample of book pages, pressing
Tab reaches every visible interactive control, and each shows where the focus is.

Headless Chromium through Playwright, on the book ``conftest.py`` builds (or ``STATELAB_BOOK_HTML``).
"""

from __future__ import annotations

import pytest

from axe_audit import missing_browser

pytestmark = pytest.mark.slow

if reason := missing_browser():
    pytest.skip(f"keyboard check skipped: {reason}", allow_module_level=True)

#: One page of each kind: landing, search, a lesson with figures and hidden code, a Data Labs workbook,
#: a generated page, the references (citations) and the glossary.
PAGES = (
    "intro.html",
    "search.html?q=wage",
    "modules/01-orientation/01-working-with-confidential-data.html",
    "modules/datalabs/01-define-the-challenge/01-workbook.html",
    "generated/codebook.html",
    "references.html",
    "glossary.html",
)

# How an element and its first descendants look: a focus indicator changes some of this (the theme draws
# some rings on a child, such as the chevron of a sidebar section).
_LOOK = """(el) => [el, ...el.querySelectorAll('*')].slice(0, 12).map(e => {
  const s = getComputedStyle(e);
  return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.backgroundColor, s.color,
          s.textDecorationLine, s.borderColor].join('|');
}).join(';')"""

# Every control a keyboard user must reach: links, buttons, disclosure summaries, form fields and anything
# made focusable on purpose. Hidden ones (closed menus, collapsed sections, display:none) are left out.
# Each is numbered, and how it looks unfocused is kept to compare with how it looks focused.
_MARK_CONTROLS = """() => {
  const look = %s;
  const selector = 'a[href], button, summary, input, select, textarea, [tabindex]';
  const out = [];
  window.statelabLook = {};
  document.querySelectorAll(selector).forEach((el, i) => {
    if (el.matches('[tabindex="-1"], [disabled], [inert] *, [aria-hidden="true"], [aria-hidden="true"] *')) return;
    if (el.matches('input[type="hidden"]')) return;
    const style = getComputedStyle(el);
    if (!el.getClientRects().length || style.visibility === 'hidden') return;
    const closed = el.closest('details:not([open])');
    if (closed && el.tagName !== 'SUMMARY' && !closed.querySelector(':scope > summary').contains(el)) return;
    el.dataset.kbd = String(i);
    window.statelabLook[String(i)] = look(el);
    out.push({id: String(i), html: el.outerHTML.slice(0, 160)});
  });
  return out;
}""" % _LOOK

_FOCUSED = """() => {
  const look = %s;
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const id = el.dataset.kbd || null;
  return {id: id, ring: id !== null && look(el) !== window.statelabLook[id], html: el.outerHTML.slice(0, 160)};
}""" % _LOOK


def _tab_walk(browser, url: str) -> tuple[list[dict], list[str], list[str]]:
    """(controls, those Tab never reached, those reached without a visible focus change) on the page at url."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        controls = page.evaluate(_MARK_CONTROLS)
        reached: dict[str, dict] = {}
        for _ in range(len(controls) + 25):  # one pass through the page, plus the browser's own stops
            page.keyboard.press("Tab")
            focused = page.evaluate(_FOCUSED)
            if focused and focused["id"]:
                reached.setdefault(focused["id"], focused)
            if len(reached) == len(controls):
                break
    finally:
        context.close()
    unreached = [c["html"] for c in controls if c["id"] not in reached]
    return controls, unreached, [f["html"] for f in reached.values() if not f["ring"]]


def test_tab_walk_finds_hidden_focus_and_unreachable_controls(browser, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html lang="en"><head><title>t</title><style>#quiet:focus-visible{outline:none}'
                    '</style></head><body><a href="#a">shows focus</a> <a id="quiet" href="#b">hides focus</a> '
                    '<a href="#c" tabindex="-1">skipped on purpose</a> <div id="trap" tabindex="0"></div>'
                    '<script>document.getElementById("trap").addEventListener("keydown", e => e.preventDefault());'
                    '</script><button>after the trap</button></body></html>', encoding="utf-8")
    controls, unreached, no_ring = _tab_walk(browser, page.as_uri())
    assert len(controls) == 4  # the tabindex=-1 link is not expected to be reached
    assert unreached == ['<button data-kbd="4">after the trap</button>']  # a keyboard trap stops the walk
    assert no_ring == ['<a id="quiet" href="#b" data-kbd="1">hides focus</a>']


@pytest.mark.parametrize("path", PAGES)
def test_tab_reaches_every_control_and_shows_focus(browser, base_url: str, path: str):
    controls, unreached, no_ring = _tab_walk(browser, f"{base_url}/{path}")
    assert len(controls) >= 5, f"{path}: only {len(controls)} controls found"
    assert not unreached, f"{path}: Tab never reaches {len(unreached)} of {len(controls)} controls: {unreached[:10]}"
    assert not no_ring, f"{path}: focus is invisible on {len(no_ring)} controls: {no_ring[:10]}"
