"""Generate feedback HTML that never shows hidden tests.

nbgrader's autograde puts the full source of every test cell, hidden tests
included, back into the autograded notebook, and ``generate_feedback`` renders
that notebook as it is: learners would read the hidden tests and, through the
tracebacks of failed ones, the expected values (nbgrader issues #917, #1363).
:class:`RedactHiddenTests` runs first in the feedback pipeline: in every cell
with a hidden-test region it deletes the region and replaces each error output's
traceback with its last line (exception name and message, which our tests
write to point at the concept, not the answer). After rendering,
:func:`find_leaks` re-reads the HTML as text and refuses any file that still
contains a line of hidden-test source.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from tqdm.auto import tqdm
from traitlets import Unicode

from ._course import check_result, course_path, make_api
from ._errors import AssignmentNotFoundError, FeedbackLeakError

__all__ = ["RedactHiddenTests", "generate_feedback", "hidden_test_lines", "find_leaks"]

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"


def _split_hidden(source: str, begin: str = BEGIN_HIDDEN, end: str = END_HIDDEN) -> tuple[str, list[str]]:
    """Return (source without hidden regions, the hidden lines including markers)."""
    kept: list[str] = []
    hidden: list[str] = []
    inside = False
    for line in source.splitlines():
        if begin in line:
            inside = True
            hidden.append(line)
        elif end in line and inside:
            inside = False
            hidden.append(line)
        elif inside:
            hidden.append(line)
        else:
            kept.append(line)
    return "\n".join(kept), hidden


class RedactHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test source and tracebacks from an autograded notebook.

    Only cells that contain a hidden-test region are touched: their hidden lines
    are deleted and each ``error`` output keeps only ``ename: evalue``. Output
    of visible tests is left as it is, so learners still see which visible check
    failed and why.
    """

    begin_test_delimeter = Unicode(BEGIN_HIDDEN, help="Start of a hidden-test region").tag(config=True)
    end_test_delimeter = Unicode(END_HIDDEN, help="End of a hidden-test region").tag(config=True)
    note = Unicode("# (hidden tests ran here; their code is not shown)",
                   help="Line left where hidden tests were removed").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or self.begin_test_delimeter not in cell.source:
            return cell, resources
        kept, _ = _split_hidden(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
        cell.source = (kept.rstrip("\n") + "\n" + self.note).lstrip("\n")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


def hidden_test_lines(notebook: str | os.PathLike[str]) -> list[str]:
    """Return the meaningful lines of hidden-test source in a (source) notebook.

    Parameters
    ----------
    notebook : path-like

    Returns
    -------
    list of str
        Stripped lines, excluding the markers, blank lines and lines shorter than
        eight characters (too generic to identify a leak).
    """
    nb = nbformat.read(notebook, as_version=4)
    lines: list[str] = []
    for cell in nb.cells:
        _, hidden = _split_hidden(cell.source)
        lines += [ln.strip() for ln in hidden
                  if len(ln.strip()) >= 8 and BEGIN_HIDDEN not in ln and END_HIDDEN not in ln]
    return lines


def _html_text(path: Path) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(encoding="utf-8"), flags=re.S | re.I)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"[ \t]+", " ", text)


def find_leaks(html_file: str | os.PathLike[str], hidden_lines: Iterable[str]) -> list[str]:
    """Return the hidden-test lines that appear in a rendered HTML file.

    Tags are stripped and entities decoded first, so syntax highlighting (which
    splits code into many ``<span>``) cannot hide a leak.

    Parameters
    ----------
    html_file : path-like
    hidden_lines : iterable of str
        From :func:`hidden_test_lines`.

    Returns
    -------
    list of str
    """
    text = _html_text(Path(html_file))
    return [ln for ln in hidden_lines if re.sub(r"[ \t]+", " ", ln) in text]


def generate_feedback(course_dir: str | os.PathLike[str], assignment: str, *,
                      students: Iterable[str] | None = None, progress: bool | None = None) -> list[Path]:
    """Render feedback HTML for autograded submissions, with hidden tests redacted.

    Parameters
    ----------
    course_dir : path-like
    assignment : str
    students : iterable of str, optional
        Default: every student with ``autograded/<id>/<assignment>``.
    progress : bool, optional
        Show a progress bar; default only on a terminal.

    Returns
    -------
    list of pathlib.Path
        The feedback HTML files written (``feedback/<student>/<assignment>/*.html``).

    Raises
    ------
    AssignmentNotFoundError
        If the assignment has no source folder.
    NbgraderStepError
        If nbgrader fails.
    FeedbackLeakError
        If a file still shows hidden-test source (the file is deleted first).
    """
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    root = course_path(course_dir)
    src = root / "source" / assignment
    if not src.is_dir():
        raise AssignmentNotFoundError(f"no assignment {assignment!r} in {root / 'source'}")
    hidden: list[str] = []
    for nb in sorted(src.glob("*.ipynb")):
        hidden += hidden_test_lines(nb)
    visible = {ln.strip() for nb in sorted((root / "release" / assignment).glob("*.ipynb"))
               for cell in nbformat.read(nb, as_version=4).cells for ln in cell.source.splitlines()}
    hidden = [ln for ln in hidden if ln not in visible]  # a line learners already see is no leak
    graded = root / "autograded"
    todo = sorted(students) if students is not None else sorted(
        p.name for p in graded.iterdir() if (p / assignment).is_dir()) if graded.is_dir() else []
    api = make_api(root, {"GenerateFeedback": {
        "preprocessors": [RedactHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]}})
    written: list[Path] = []
    leaks: dict[str, str] = {}
    for s in tqdm(todo, desc=f"feedback {assignment}", unit="sub",
                  disable=(None if progress is None else not progress)):
        check_result(api.generate_feedback(assignment, s, force=True), f"generate_feedback {assignment} {s}")
        for f in sorted((root / "feedback" / s / assignment).glob("*.html")):
            found = find_leaks(f, hidden)
            if found:
                f.unlink()
                leaks[s] = "\n".join(found)
            else:
                written.append(f)
    if leaks:
        raise FeedbackLeakError(f"feedback for {sorted(leaks)} showed hidden tests and was deleted: {leaks}")
    return written


