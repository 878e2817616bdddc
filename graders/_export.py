"""Grade tables, the Canvas gradebook CSV and per-assignment reports.

Canvas gradebook CSV (Grades > Import, the same layout as Grades > Export)
-------------------------------------------------------------------------
* Row 1 is the header: ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``,
  ``Section``, then one column per assignment.
* An assignment column named ``Title (12345)``, where 12345 is the Canvas
  assignment id, updates that assignment; a column without an id creates a new
  assignment on import (Canvas asks for confirmation first).
* Row 2 may be a ``Points Possible`` row (Canvas writes it in its own exports,
  with the label in the first column); it gives the points of new assignments
  and is otherwise ignored. Written by default, ``points_row=False`` omits it.
* Canvas matches each row to a student by ``ID`` (Canvas user id), then
  ``SIS User ID``, then ``SIS Login ID``; ``Student`` and ``Section`` are for
  people, not for matching. Without a roster we write the nbgrader student id
  (which is the JupyterHub login) as ``SIS Login ID`` and the gradebook's
  ``lms_user_id`` as ``ID``. Pass a Canvas export as ``roster`` to copy all
  five identity columns, and the assignment ids in its header, from Canvas.
* A blank score leaves Canvas's grade unchanged; a number replaces it. Missing
  submissions are blank by default (``missing="zero"`` writes 0).
* A score with written answers not yet graded by hand would count them as zero:
  the export refuses, naming them, unless told to leave those scores blank or to
  write them as they stand (``ungraded``).
* UTF-8, comma separated, RFC 4180 quoting (``"Doe, Jane"``).

Scores are :func:`graders._results.final_score`, the one definition every tool uses.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import nbformat

from ._atomic import atomic_path
from ._course import Course, CourseLike, require_writable_file
from ._errors import AssignmentNotFoundError, GradingError, RosterError
from ._results import final_score, refuse_ungraded, ungraded_cells
from ._roster import CANVAS_ID_COLUMNS, read_roster

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["grade_table", "export_canvas_csv", "report", "ReportFiles"]

_POINTS_LABEL = "    Points Possible"
#: What ``ungraded`` may be, in the export.
UNGRADED_CHOICES = ("refuse", "blank", "zero")
#: The report's columns, in the CSV's order: (heading in the HTML table, CSV column).
REPORT_COLUMNS = (("Points", "max_score"), ("Mean score", "mean"), ("Median score", "median"),
                  ("Share with full marks", "share_full_marks"), ("Submissions", "n_submissions"),
                  ("Waiting for a manual grade", "n_needs_manual_grade"))
_CSV_FLOAT = "%.4g"


class ReportFiles(NamedTuple):
    """The files :func:`report` writes."""

    csv: Path
    png: Path
    html: Path


def _question_order(course: Course, assignment: str) -> list[str]:
    """Graded cell ids in notebook order (from release/, else source/)."""
    for folder in (course.folder("release", assignment), course.folder("source", assignment)):
        if folder.is_dir():
            order: list[str] = []
            for nb in sorted(folder.glob("*.ipynb")):
                for cell in nbformat.read(nb, as_version=4).cells:
                    meta = cell.metadata.get("nbgrader", {})
                    if meta.get("points") is not None and meta.get("grade_id"):
                        order.append(meta["grade_id"])
            return order
    return []


def grade_table(course: CourseLike, assignment: str) -> "pd.DataFrame":
    """Return one row per student and graded cell of `assignment`.

    Parameters
    ----------
    course : path-like or Course
    assignment : str

    Returns
    -------
    pandas.DataFrame
        Columns ``student``, ``notebook``, ``question`` (the cell's nbgrader
        ``grade_id``), ``score``, ``max_score``, ``auto_score``,
        ``manual_score``, ``needs_manual_grade``; questions in notebook order.

    Raises
    ------
    AssignmentNotFoundError
        If the assignment is not in the gradebook.
    """
    import pandas as pd
    from nbgrader.api import MissingEntry

    course = Course.open(course)
    rows = []
    with course.gradebook() as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise AssignmentNotFoundError(f"assignment {assignment!r} is not in the gradebook") from None
        for sub in a.submissions:
            for snb in sub.notebooks:
                for g in snb.grades:
                    rows.append({"student": sub.student.id, "notebook": snb.name, "question": g.name,
                                 "score": float(g.score), "max_score": float(g.max_score),
                                 "auto_score": g.auto_score, "manual_score": g.manual_score,
                                 "needs_manual_grade": bool(g.needs_manual_grade)})
    cols = ["student", "notebook", "question", "score", "max_score", "auto_score", "manual_score",
            "needs_manual_grade"]
    df = pd.DataFrame(rows, columns=cols)
    order = {q: i for i, q in enumerate(_question_order(course, assignment))}
    df["_o"] = df["question"].map(lambda q: order.get(q, len(order)))
    return df.sort_values(["student", "_o", "question"]).drop(columns="_o").reset_index(drop=True)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}" if x != int(x) else str(int(x))


def _canvas_roster(roster: str | os.PathLike[str] | None):
    if roster is None:
        return None
    found = read_roster(roster)
    if found.layout != "canvas":
        raise RosterError(f"{roster} is an nbgrader roster, not a Canvas gradebook export: import it with "
                          "`statelab-grade students import` and export without --roster")
    return found


def export_canvas_csv(course: CourseLike, out: str | os.PathLike[str], *,
                      assignments: Iterable[str] | None = None,
                      roster: str | os.PathLike[str] | None = None,
                      canvas_ids: Mapping[str, int | str] | None = None,
                      missing: str = "blank", points_row: bool = True, ungraded: str = "refuse") -> Path:
    """Write the gradebook as a CSV that Canvas's gradebook import accepts.

    See the module docstring for the format. One row per student in the
    gradebook (or per roster row matched to one), then scores as points after
    nbgrader's late penalty (``max(0, score - penalty)``, as ``nbgrader export``).

    Parameters
    ----------
    course : path-like or Course
    out : path-like
        The CSV to write (written to a temporary file, then renamed).
    assignments : iterable of str, optional
        Default: every assignment in the gradebook, by due date then name.
    roster : path-like, optional
        A Canvas gradebook export; students are matched by ``SIS Login ID`` or
        ``SIS User ID`` equal to the nbgrader id, and assignment columns named
        ``<assignment id> (<canvas id>)`` in its header are reused. Default: the
        gradebook's own roster (``statelab-grade students import``).
    canvas_ids : mapping, optional
        Assignment id to Canvas assignment id, overriding the roster.
    missing : {"blank", "zero"}, default "blank"
        What to write when a student has no submission.
    points_row : bool, default True
        Write the ``Points Possible`` row.
    ungraded : {"refuse", "blank", "zero"}, default "refuse"
        When written answers still wait for a manual grade: refuse (nothing is written),
        leave those students' scores blank for that assignment (Canvas keeps what it has),
        or write the score as it stands (those answers count zero).

    Returns
    -------
    pathlib.Path
        `out`.

    Raises
    ------
    AssignmentNotFoundError
        If a requested assignment is not in the gradebook.
    RosterError
        If `roster` is missing or not a Canvas export.
    UngradedWorkError
        If `ungraded` is ``"refuse"`` and answers wait for a manual grade.
    GradingError
        If `missing` or `ungraded` is invalid.
    """
    from nbgrader.api import MissingEntry

    if missing not in ("blank", "zero"):
        raise GradingError(f"missing must be 'blank' or 'zero', not {missing!r}")
    if ungraded not in UNGRADED_CHOICES:
        raise GradingError(f"ungraded must be one of {', '.join(UNGRADED_CHOICES)}, not {ungraded!r}")
    found = _canvas_roster(roster)
    course = Course.open(course)
    require_writable_file(out)
    by_login = {}
    for p in found.people if found else []:
        for key in (p.canvas[3], p.canvas[2]):  # SIS Login ID, SIS User ID
            if key:
                by_login.setdefault(key.lower(), p.canvas)
    out = Path(out)
    with course.gradebook() as gb:
        names = [a.name for a in gb.assignments] if assignments is None else list(assignments)
        objs = []
        for n in names:
            try:
                objs.append(gb.find_assignment(n))
            except MissingEntry:
                raise AssignmentNotFoundError(f"assignment {n!r} is not in the gradebook") from None
        if ungraded == "refuse":
            refuse_ungraded(gb, names, "export", "pass --ungraded blank (leave those scores out; Canvas keeps "
                            "what it has) or --ungraded zero (count them as zero)")
        waiting = {n: set(ungraded_cells(gb, n)) for n in names} if ungraded == "blank" else {}
        header = list(CANVAS_ID_COLUMNS)
        for a in objs:
            cid = (canvas_ids or {}).get(a.name)
            header.append(f"{a.name} ({cid})" if cid is not None else (found.canvas_columns.get(a.name, a.name)
                                                                        if found else a.name))
        rows = []
        if points_row:
            rows.append([_POINTS_LABEL, "", "", "", ""] + [_fmt(float(a.max_score)) for a in objs])
        for st in sorted(gb.students, key=lambda s: ((s.last_name or s.id).lower(), s.id)):
            ident = by_login.get(st.id.lower())
            if ident is None:
                name = f"{st.last_name}, {st.first_name}" if st.last_name and st.first_name else st.id
                ident = (name, st.lms_user_id or "", "", st.id, "")
            scores = []
            for a in objs:
                try:
                    sub = gb.find_submission(a.name, st.id)
                except MissingEntry:
                    scores.append("0" if missing == "zero" else "")
                else:
                    scores.append("" if st.id in waiting.get(a.name, ()) else _fmt(final_score(sub)))
            rows.append(list(ident) + scores)
    with atomic_path(out) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
    return out


def report(course: CourseLike, assignment: str,
           out_dir: str | os.PathLike[str] | None = None) -> ReportFiles:
    """Write a per-question score table (CSV and HTML) and bar plot (PNG) for an assignment.

    Parameters
    ----------
    course : path-like or Course
    assignment : str
    out_dir : path-like, optional
        Default ``<course_dir>/reports``.

    Returns
    -------
    ReportFiles
        A named tuple ``(csv, png, html)``: ``<assignment>-questions.csv`` (one row per question:
        ``max_score``, ``mean``, ``median``, ``share_full_marks``, ``n_submissions``,
        ``n_needs_manual_grade``), ``<assignment>-questions.png``, and
        ``<assignment>-questions.html``, the same table as a page (the CSV's numbers, as the CSV
        writes them, plus the mean as a percentage of the points, which the chart draws). Each file
        is written to a temporary file, then renamed.

    Raises
    ------
    AssignmentNotFoundError
    GradingError
        If nobody has been graded yet.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    course = Course.open(course)
    df = grade_table(course, assignment)
    if df.empty:
        raise GradingError(f"no graded submissions for {assignment!r}: run `statelab-grade autograde {assignment}` first")
    order = _question_order(course, assignment)
    g = df.groupby("question", sort=False)
    table = pd.DataFrame({
        "max_score": g["max_score"].max(),
        "mean": g["score"].mean(),
        "median": g["score"].median(),
        "share_full_marks": g.apply(lambda x: float((x["score"] >= x["max_score"]).mean()),
                                    include_groups=False),
        "n_submissions": g["student"].nunique(),
        "n_needs_manual_grade": g["needs_manual_grade"].sum().astype(int),
    })
    table = table.reindex([q for q in order if q in table.index] +
                          [q for q in table.index if q not in order])
    table.index.name = "question"
    out = Path(out_dir) if out_dir is not None else course.path / course.reports_directory
    files = ReportFiles(*(out / f"{assignment}-questions.{ext}" for ext in ("csv", "png", "html")))
    for path in files:
        require_writable_file(path)
    with atomic_path(files.csv) as tmp:
        table.to_csv(tmp, float_format=_CSV_FLOAT)

    fig = Figure(figsize=(7, 0.5 * len(table) + 1.5), layout="constrained")
    ax = fig.subplots()
    pct = 100 * table["mean"] / table["max_score"].where(table["max_score"] > 0)
    labels = [f"{q} ({_fmt(m)} pt)" + (" *" if n else "")
              for q, m, n in zip(table.index, table["max_score"], table["n_needs_manual_grade"])]
    ax.barh(labels[::-1], pct.to_numpy()[::-1], color="#4C72B0")
    ax.set_xlim(0, 100)
    ax.set_xlabel("mean score, % of the question's points")
    n = int(table["n_submissions"].max())
    title = f"{assignment}: {n} submissions"
    if table["n_needs_manual_grade"].any():
        title += "  (* not yet manually graded for some)"
    ax.set_title(title, fontsize=10)
    with atomic_path(files.png) as tmp:
        fig.savefig(tmp, format="png", dpi=120)

    page = _report_html(assignment, table, pct, files)
    with atomic_path(files.html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return files


def _csv_cells(table: "pd.DataFrame") -> dict[str, list[str]]:
    """Each question's :data:`REPORT_COLUMNS` values exactly as the report's CSV writes them."""
    import io

    lines = list(csv.reader(io.StringIO(table.to_csv(float_format=_CSV_FLOAT))))
    position = {name: i for i, name in enumerate(lines[0])}
    return {row[0]: [row[position[col]] for _, col in REPORT_COLUMNS] for row in lines[1:]}


def _report_html(assignment: str, table: "pd.DataFrame", pct: "pd.Series", files: ReportFiles) -> str:
    """The report table as an accessible page (``templates/report.html.j2``)."""
    import jinja2
    import markupsafe

    from ._pagestyle import page_css

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    cells = _csv_cells(table)  # the CSV's own text: the page and the CSV cannot disagree
    rows = [{"question": q, "values": cells[str(q)], "percent": "n/a" if math.isnan(p) else f"{p:.0f}%"}
            for q, p in zip(table.index, pct.astype(float))]
    return env.get_template("report.html.j2").render(
        assignment=assignment, rows=rows, columns=REPORT_COLUMNS, page_css=markupsafe.Markup(page_css(code=False)),
        n_submissions=int(table["n_submissions"].max()), n_questions=len(table),
        waiting=int(table["n_needs_manual_grade"].sum()), csv_name=files.csv.name, png_name=files.png.name)
