"""Sphinx extension: WCAG 2.1 AA fixes for the pages Jupyter Book 1 and its themes write.

Each fix is made where the markup is produced, and each answers one axe-core finding
(``tests/browser/test_axe.py`` audits every built page; see ``book/instructor/accessibility.md``):

- ``summary-name``: pydata-sphinx-theme's sidebar opens sections with a ``<summary>`` holding only a
  chevron icon. :func:`_name_nav_toggles` gives each one text for screen readers ("Pages under ...").
- ``label-content-name-mismatch``: MyST-NB's hidden-code toggle labels its ``<summary>`` "Toggle hidden
  content" while it shows "Show code cell content". :func:`visit_hide_cell` drops the label so the
  summary is named by what it shows. (The theme's search and color-mode buttons have the same fault;
  they are fixed in ``book/_templates/``.)
- ``aria-required-children`` and ``aria-deprecated-role``: docutils writes citations as
  ``role="doc-biblioentry"`` (deprecated in DPUB-ARIA 1.1) inside ``role="list"``.
  :func:`visit_citation` writes them as list items.
- The landing page: sphinx-external-toc writes ``index.html`` as a bare ``<meta http-equiv="Refresh">``
  (no language, no title, nothing to follow without the redirect). :func:`write_landing_page` writes a
  complete page that redirects the same way and links to the course's first page.
"""

from __future__ import annotations

import html
from pathlib import Path

from docutils import nodes

_LANDING = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Refresh" content="0; url={target}">
<title>{title}</title>
</head>
<body>
<main>
<h1>{title}</h1>
<p><a href="{target}">Open the course</a></p>
</main>
</body>
</html>
"""


# ------------------------------------------------------------------------------ sidebar <summary>
def _label_summaries(soup) -> None:
    """Give every textless ``<summary>`` of the sidebar the name of the section it opens."""
    for summary in soup.select("li.has-children > details > summary"):
        if summary.get_text(strip=True):
            continue  # a caption inside the summary already names it
        link = summary.parent.parent.find("a", recursive=False)
        title = link.get_text(" ", strip=True) if link is not None else ""
        label = soup.new_tag("span", attrs={"class": "visually-hidden"})
        label.string = f"Pages under {title}" if title else "Pages in this section"
        summary.append(label)


def _name_nav_toggles(app, pagename, templatename, context, doctree) -> None:
    original = context.get("generate_toctree_html")
    if original is None or getattr(original, "statelab_a11y", False):
        return

    def generate_toctree_html(kind, *args, **kwargs):
        result = original(kind, *args, **kwargs)
        if hasattr(result, "select"):
            _label_summaries(result)
        elif isinstance(result, str) and "<summary" in result:
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(result, "html.parser")
            _label_summaries(soup)
            result = str(soup)
        return result

    generate_toctree_html.statelab_a11y = True
    context["generate_toctree_html"] = generate_toctree_html


# ------------------------------------------------------------------------------ MyST-NB hidden code
def visit_hide_cell(self, node) -> None:
    """MyST-NB's ``visit_HideCellInput`` without the ``aria-label`` that hides the visible prompt."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{html.escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{html.escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def depart_hide_cell(self, node) -> None:
    self.body.append("</details>\n")


def _override_hide_cell(app, config) -> None:
    try:
        from myst_nb.sphinx_ import HideCodeCellNode
    except ImportError:  # MyST-NB absent or reorganized: nothing of it to fix
        return
    app.add_node(HideCodeCellNode, override=True, html=(visit_hide_cell, depart_hide_cell))


# ------------------------------------------------------------------------------ citations
def visit_citation(self, node) -> None:
    """docutils' HTML5 citation, as a list item of its citation list (not the deprecated biblioentry role)."""
    if not isinstance(node.previous_sibling(), type(node)):
        self.body.append('<div role="list" class="citation-list">\n')
    self.body.append(self.starttag(node, "div", classes=[node.tagname], role="listitem"))


def depart_citation(self, node) -> None:
    self.body.append("</div>\n")
    if not isinstance(node.next_node(descend=False, siblings=True), type(node)):
        self.body.append("</div>\n")


# ------------------------------------------------------------------------------ landing page
def landing_page(target: str, title: str, lang: str = "en") -> str:
    """A complete HTML page that redirects to ``target`` and links to it for browsers that do not."""
    return _LANDING.format(lang=html.escape(lang), target=html.escape(target, quote=True), title=html.escape(title))


def write_landing_page(app, exception) -> None:
    """Write ``index.html`` as a redirect page with a language, a title and a link (HTML builds only).

    Runs before sphinx-external-toc's own ``build-finished`` handler, which then finds ``index.html``
    present and leaves it alone. A book whose root page is ``index`` needs nothing.
    """
    if exception is not None or app.builder.format != "html" or app.config.root_doc == "index":
        return
    target = app.builder.get_target_uri(app.config.root_doc)
    title = app.config.html_title or app.config.project or "Home"
    page = landing_page(target, title, app.config.language or "en")
    path = Path(app.outdir) / "index.html"
    if not path.exists() or path.read_text(encoding="utf-8") != page:
        path.write_text(page, encoding="utf-8")


def setup(app):
    # after pydata-sphinx-theme puts generate_toctree_html in the page context (priority 500)
    app.connect("html-page-context", _name_nav_toggles, priority=900)
    # after MyST-NB has registered its node (extensions are set up before config-inited)
    app.connect("config-inited", _override_hide_cell)
    app.add_node(nodes.citation, override=True, html=(visit_citation, depart_citation))
    # before sphinx-external-toc's ensure_index_file (priority 500)
    app.connect("build-finished", write_landing_page, priority=400)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
