"""The colours and markup of the pages graders writes (feedback, reports), without a kernel or a browser.

Every colour of text is checked against what it is drawn on, in the light and the dark scheme (WCAG 1.4.3,
4.5:1); ``tests/browser/test_axe_outputs.py`` then audits real pages with axe-core.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import nbformat
import pytest

from graders import _pagestyle as ps
from graders._export import REPORT_COLUMNS, ReportFiles, _report_html
from graders._feedback import FeedbackExporter

pytestmark = pytest.mark.grading

AA = 4.5
#: A traceback as IPython 9 writes it: 256-colour escapes (comment grey-teal, keyword green), bold, reset.
TRACEBACK = ("\x1b[31m---------------------------------------------------------------------------\x1b[39m\n"
             "\x1b[31mNotImplementedError\x1b[39m                       Traceback (most recent call last)\n"
             "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[5]\x1b[39m\x1b[32m, line 2\x1b[39m\n"
             "\x1b[32m      1\x1b[39m \x1b[38;5;66m# YOUR CODE HERE\x1b[39m\n"
             "\x1b[32m----> 2\x1b[39m \x1b[38;5;28;01mraise\x1b[39;00m NotImplementedError()\n"
             "\x1b[48;5;1m\x1b[38;2;200;200;40mon red\x1b[0m \x1b[7mreversed\x1b[27m \x1b[1;97mbright\x1b[0m\n"
             "\x1b[31mNotImplementedError\x1b[39m: ")


def test_contrast_is_wcag_contrast():
    assert ps.contrast("#000000", "#ffffff") == pytest.approx(21)
    assert ps.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert ps.contrast("#3D7B7B", "#F5F5F5") == pytest.approx(4.46, abs=0.01)  # nbconvert's comments, too low


@pytest.mark.parametrize("scheme", ps.SCHEMES)
def test_page_colours_reach_aa(scheme):
    colors = ps.PAGE_COLORS[scheme]
    low = [(fg, bg, round(ps.contrast(colors[fg], colors[bg]), 2))
           for fg, bgs in ps.TEXT_ON.items() for bg in bgs if ps.contrast(colors[fg], colors[bg]) < AA]
    assert not low
    assert ps.contrast(colors["fg"], ps.CODE_BG[scheme]) >= AA


@pytest.mark.parametrize("scheme", ps.SCHEMES)
def test_every_code_colour_reaches_aa(scheme):
    style = ps.code_style(scheme)
    bg = ps.CODE_BG[scheme]
    default = ps.PAGE_COLORS[scheme]["fg"]  # a token without a colour inherits the page's text colour
    low = {}
    for token, found in style:
        assert not found["bgcolor"] and not found["border"], f"{token} has its own background"
        color = f"#{found['color']}" if found["color"] else default
        if ps.contrast(color, bg) < AA:
            low[str(token)] = color
    assert not low, f"code colours under {AA}:1 on {bg}: {low}"


@pytest.mark.parametrize("scheme", ps.SCHEMES)
def test_every_ansi_colour_reaches_aa(scheme):
    assert len(ps.ANSI_COLORS[scheme]) == 16
    low = {k: v for k, v in ps.ANSI_COLORS[scheme].items() if ps.contrast(v, ps.CODE_BG[scheme]) < AA}
    assert not low


def test_ansi_escapes_become_named_colours_and_text_is_kept():
    out = ps.aa_ansi2html(TRACEBACK)
    assert "style=" not in out  # no inline rgb() that a stylesheet cannot correct
    assert "-bg" not in out and "inverse" not in out  # backgrounds and reverse video dropped
    classes = set(re.findall(r'class="([^"]+)"', out))
    names = {c for cs in classes for c in cs.split()}
    assert names <= {f"ansi-{n}-fg" for n in ps.ANSI_COLORS["light"]} | {"ansi-bold", "ansi-underline"}
    assert "ansi-black-intense-fg" in names  # the grey comment
    text = html.unescape(re.sub(r"<[^>]+>", "", out))
    assert text == re.sub(r"\x1b\[[0-9;]*m", "", TRACEBACK)


def test_normalize_ansi_keeps_plain_codes_and_malformed_input():
    assert ps.normalize_ansi("\x1b[1;31mx\x1b[0m") == "\x1b[1;31mx\x1b[0m"
    assert ps.normalize_ansi("\x1b[38;5mx") == "\x1b[5mx"  # an incomplete colour is dropped, not a crash
    assert ps.normalize_ansi("\x1b[41mx\x1b[49m") == "x"
    assert ps.normalize_ansi("no escapes") == "no escapes"


def test_page_css_has_both_schemes():
    css = ps.page_css()
    light, dark = css.split("@media (prefers-color-scheme: dark)")
    assert "color-scheme: light dark" in light
    for scheme, part in (("light", light), ("dark", dark)):
        assert f"--link: {ps.PAGE_COLORS[scheme]['link']}" in part
        assert f".highlight {{ background: {ps.CODE_BG[scheme]}" in part
        assert ".ansi-green-fg" in part


def _feedback_html(nb) -> str:
    resources = {"nbgrader": {"notebook": "nb", "assignment": "a1", "score": 1.0, "max_score": 2.0,
                              "late_penalty": 0, "ungraded": []}}
    body, _ = FeedbackExporter().from_notebook_node(nb, resources)
    return body


def test_feedback_page_carries_only_the_course_colours():
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    answer = nbformat.v4.new_code_cell("# a comment\nx = 1 if not y else 2\nraise ValueError()")
    answer.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "q1", "points": 2, "score": 1}
    answer.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="", traceback=TRACEBACK.split("\n"))]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nSee [the lesson](https://example.org/)."), answer]
    page = _feedback_html(nb)
    assert page.count('<html lang="en">') == 1 and page.count("<body") == 1
    assert "Bootstrap" not in page and "#3D7B7B" not in page.upper()  # not nbconvert's Pygments colours
    assert 'style="color' not in page
    assert "@media (prefers-color-scheme: dark)" in page
    assert "text-decoration: underline" in page  # links are not told from text by colour alone
    assert 'class="c1"' in page and "ansi-black-intense-fg" in page


def test_report_page_shows_the_csv_numbers():
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({"max_score": [2.0, 3.0, 0.0], "mean": [1 / 3, 12345.678, 0.0],
                          "median": [0.5, 2.0, float("nan")], "share_full_marks": [0.125, 2 / 3, 1.0],
                          "n_submissions": [3, 3, 3], "n_needs_manual_grade": [0, 2, 0]},
                         index=pd.Index(["q1", "q<2>", "q3"], name="question"))
    written = io.StringIO()
    table.to_csv(written, float_format="%.4g")
    csv_rows = [line.split(",") for line in written.getvalue().splitlines()[1:]]
    pct = 100 * table["mean"] / table["max_score"].where(table["max_score"] > 0)
    files = ReportFiles(*(Path(f"/r/a1-questions.{e}") for e in ("csv", "png", "html")))
    page = _report_html("a1", table, pct, files)
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    cells = [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
             for tr in body.split("</tr>")[:-1]]
    assert [c[:1 + len(REPORT_COLUMNS)] for c in cells] == csv_rows
    assert [c[-1] for c in cells] == ["17%", "411523%", "n/a"]
    assert '<html lang="en">' in page and '<caption id="scores-caption">' in page
    assert page.count('<th scope="col"') == 2 + len(REPORT_COLUMNS) and page.count('<th scope="row">') == 3
    assert "q&lt;2&gt;" in page  # names are escaped
    assert "Not final:" in page and "2 answers wait" in page
