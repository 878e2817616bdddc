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

The page itself is the course's template (``templates/feedback.html.j2``): it
loads nothing from the network (nbgrader's loads MathJax from a CDN), is valid,
semantic HTML (one ``<body>``, ``lang``, an ``<h1>``, a score table with header
cells), passes axe-core's WCAG 2.0/2.1 A and AA rules in the light and the dark
colour scheme (its colours, code and traceback colours included, come from
:mod:`graders._pagestyle`; links are underlined), and says "not graded yet" where
a written answer waits for a person instead of showing zero. :class:`FeedbackExporter` renders it;
:class:`FeedbackGrades` and :class:`AccessibleTables` give it what it needs.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbconvert.exporters import HTMLExporter
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from tqdm.auto import tqdm
from traitlets import Unicode

from ._course import Course, CourseLike, check_result
from ._errors import AssignmentNotFoundError, FeedbackLeakError, GradingError, StudentNotFoundError
from ._pagestyle import aa_ansi2html, page_css
from ._results import refuse_ungraded

__all__ = ["RedactHiddenTests", "FeedbackGrades", "AccessibleTables", "FeedbackExporter", "FEEDBACK_TEMPLATE",
           "feedback_config",
           "generate_feedback", "hidden_test_lines", "find_leaks"]

#: The course's feedback page template (see the module docstring).
FEEDBACK_TEMPLATE = Path(__file__).resolve().with_name("templates") / "feedback.html.j2"

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


class FeedbackGrades(GetGrades):
    """nbgrader's ``GetGrades``, and which cells still wait for a manual grade.

    Each such cell gets ``metadata.nbgrader.needs_manual_grade = True`` and its ``grade_id`` is
    listed in ``resources["nbgrader"]["ungraded"]``, so the page can say "not graded yet"
    rather than show the zero nbgrader counts for it.
    """

    def preprocess(self, nb, resources):
        resources["nbgrader"]["ungraded"] = []
        return super().preprocess(nb, resources)

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        meta = cell.metadata.nbgrader
        grade = self.gradebook.find_grade(meta["grade_id"], self.notebook_id, self.assignment_id, self.student_id)
        if grade.needs_manual_grade:
            meta["needs_manual_grade"] = True
            resources["nbgrader"]["ungraded"].append(meta["grade_id"])


_TH = re.compile(r"<th(?![^>]*\bscope=)(?=[\s>])", re.I)


def _scope_headers(page: str) -> str:
    """``<th>`` in ``<thead>`` get ``scope="col"``, in ``<tbody>`` ``scope="row"`` (pandas writes neither)."""
    page = re.sub(r"<thead\b.*?</thead>", lambda m: _TH.sub('<th scope="col"', m.group(0)), page, flags=re.S | re.I)
    return re.sub(r"<tbody\b.*?</tbody>", lambda m: _TH.sub('<th scope="row"', m.group(0)), page, flags=re.S | re.I)


class AccessibleTables(NbGraderPreprocessor):
    """Give the header cells of HTML tables in outputs (data frames) a ``scope``, for screen readers."""

    def preprocess_cell(self, cell, resources, cell_index):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            value = data.get("text/html")
            if value is not None:
                text = value if isinstance(value, str) else "".join(value)
                if "<th" in text:
                    data["text/html"] = _scope_headers(text)
        return cell, resources


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter with the course's feedback template (``templates/feedback.html.j2``).

    Select it with ``c.GenerateFeedback.exporter_class = "graders.FeedbackExporter"``: it then
    renders every feedback page, the formgrader's "Generate Feedback" included, while the
    formgrader's own pages keep nbgrader's templates (configuring ``HTMLExporter`` itself would
    change those too). nbgrader configures ``HTMLExporter.template_name`` for its feedback
    template; this class sets its template after the configuration is read, so that does not
    apply here.

    The page's colours do not depend on the preprocessors configured: the template leaves out the
    CSS that ``CSSHTMLHeaderPreprocessor`` collects (Pygments' default colours, under 4.5:1) and
    uses :func:`graders._pagestyle.page_css` (passed as ``resources["statelab"]["page_css"]``), and
    the ``ansi2html`` filter maps terminal colours to named ones first
    (:func:`graders._pagestyle.aa_ansi2html`), so tracebacks carry no inline colour.
    """

    def __init__(self, *args, **kwargs):
        from jinja2 import FileSystemLoader

        kwargs["extra_loaders"] = [FileSystemLoader(str(FEEDBACK_TEMPLATE.parent)), *kwargs.get("extra_loaders", [])]
        super().__init__(*args, **kwargs)
        self.template_name = "classic"  # the course's page extends nbconvert's classic one
        self.template_file = FEEDBACK_TEMPLATE.name

    def default_filters(self):
        yield from super().default_filters()
        yield ("ansi2html", aa_ansi2html)

    def from_notebook_node(self, nb, resources=None, **kw):
        resources = dict(resources) if resources else {}
        resources["statelab"] = {**resources.get("statelab", {}), "page_css": page_css()}
        return super().from_notebook_node(nb, resources, **kw)


def feedback_config() -> dict[str, dict[str, object]]:
    """Configuration that renders feedback pages with :class:`FeedbackExporter`."""
    return {"GenerateFeedback": {"exporter_class": FeedbackExporter}}


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


def generate_feedback(course: CourseLike, assignment: str, *,
                      students: Iterable[str] | None = None, progress: bool | None = None,
                      ungraded: str = "refuse") -> list[Path]:
    """Render feedback HTML for autograded submissions, with hidden tests redacted.

    Parameters
    ----------
    course : path-like or Course
    assignment : str
    students : iterable of str, optional
        Default: every student with ``autograded/<id>/<assignment>``.
    progress : bool, optional
        Show a progress bar; default only on a terminal.
    ungraded : {"refuse", "mark"}, default "refuse"
        What to do when written answers still wait for a manual grade: refuse (nothing is
        written), or write the pages and say on each which answers are not graded yet.

    Returns
    -------
    list of pathlib.Path
        The feedback HTML files written (``feedback/<student>/<assignment>/*.html``).

    Raises
    ------
    AssignmentNotFoundError
        If the assignment has no source folder.
    StudentNotFoundError
        If a student in `students` has no autograded submission.
    UngradedWorkError
        If `ungraded` is ``"refuse"`` and answers wait for a manual grade.
    NbgraderStepError
        If nbgrader fails.
    FeedbackLeakError
        If a file still shows hidden-test source (the file is deleted first).
    """
    if ungraded not in ("refuse", "mark"):
        raise GradingError(f"ungraded must be 'refuse' or 'mark', not {ungraded!r}")
    course = Course.open(course)
    src = course.folder("source", assignment)
    if not src.is_dir():
        raise AssignmentNotFoundError(f"no assignment {assignment!r} in {src.parent}")
    graded = course.students("autograded", assignment)
    todo = sorted(set(students)) if students is not None else graded
    missing = [s for s in todo if s not in graded]
    if missing:
        raise StudentNotFoundError(f"no autograded submission of {assignment} from {', '.join(map(repr, missing))}: "
                                   f"run `statelab-grade autograde {assignment}` first")
    course.require_writable(course.path / course.feedback_directory)
    if ungraded == "refuse" and todo:
        with course.gradebook() as gb:
            refuse_ungraded(gb, [assignment], "feedback", "pass --ungraded mark to say on each page which "
                            "answers are not graded yet", todo)
    hidden: list[str] = []
    for nb in sorted(src.glob("*.ipynb")):
        hidden += hidden_test_lines(nb)
    visible = {ln.strip() for nb in sorted(course.folder("release", assignment).glob("*.ipynb"))
               for cell in nbformat.read(nb, as_version=4).cells for ln in cell.source.splitlines()}
    hidden = [ln for ln in hidden if ln not in visible]  # a line learners already see is no leak
    api = course.api({"GenerateFeedback": {
        # no CSSHTMLHeaderPreprocessor: the page does not use the CSS it collects (see FeedbackExporter)
        "preprocessors": [RedactHiddenTests, FeedbackGrades, AccessibleTables],
        **feedback_config()["GenerateFeedback"]}})
    written: list[Path] = []
    leaks: dict[str, str] = {}
    for s in tqdm(todo, desc=f"feedback {assignment}", unit="sub",
                  disable=(None if progress is None else not progress)):
        with course.gradebook_errors():
            check_result(api.generate_feedback(assignment, s, force=True), f"generate_feedback {assignment} {s}")
        for f in sorted(course.folder("feedback", assignment, s).glob("*.html")):
            found = find_leaks(f, hidden)
            if found:
                f.unlink()
                leaks[s] = "\n".join(found)
            else:
                written.append(f)
    if leaks:
        raise FeedbackLeakError(f"feedback for {sorted(leaks)} showed hidden tests and was deleted: {leaks}")
    return written
