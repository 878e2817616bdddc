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
* UTF-8, comma separated, RFC 4180 quoting (``"Doe, Jane"``).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from ._atomic import atomic_path
from ._course import course_path, gradebook_file
from ._errors import AssignmentNotFoundError, GradingError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CANVAS_ID_COLUMNS", "grade_table", "export_canvas_csv", "report"]

#: The identity columns that open every Canvas gradebook CSV, in order.
CANVAS_ID_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
_POINTS_LABEL = "    Points Possible"
_CANVAS_COL = re.compile(r"^(?P<name>.*?)\s*\((?P<id>\d+)\)\s*$")


def _question_order(root: Path, assignment: str) -> list[str]:
    """Graded cell ids in notebook order (from release/, else source/)."""
    for folder in (root / "release" / assignment, root / "source" / assignment):
        if folder.is_dir():
            order: list[str] = []
            for nb in sorted(folder.glob("*.ipynb")):
                for cell in nbformat.read(nb, as_version=4).cells:
                    meta = cell.metadata.get("nbgrader", {})
                    if meta.get("points") is not None and meta.get("grade_id"):
                        order.append(meta["grade_id"])
            return order
    return []


def grade_table(course_dir: str | os.PathLike[str], assignment: str) -> "pd.DataFrame":
    """Return one row per student and graded cell of `assignment`.

    Parameters
    ----------
    course_dir : path-like
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
    from nbgrader.api import Gradebook, MissingEntry

    root = course_path(course_dir)
    db, course_id = gradebook_file(root)
    rows = []
    with Gradebook(f"sqlite:///{db}", course_id) as gb:
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
    order = {q: i for i, q in enumerate(_question_order(root, assignment))}
    df["_o"] = df["question"].map(lambda q: order.get(q, len(order)))
    return df.sort_values(["student", "_o", "question"]).drop(columns="_o").reset_index(drop=True)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}" if x != int(x) else str(int(x))


def _read_roster(roster: str | os.PathLike[str]) -> tuple[list[dict[str, str]], dict[str, str]]:
    with open(roster, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CANVAS_ID_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise GradingError(f"{roster} is not a Canvas gradebook export: no columns {missing}")
        headers = {}
        for col in reader.fieldnames or []:
            m = _CANVAS_COL.match(col)
            if m and col not in CANVAS_ID_COLUMNS:
                headers[m["name"]] = col
        people = [r for r in reader if r["Student"].strip() and "Points Possible" not in r["Student"]]
    return people, headers


def export_canvas_csv(course_dir: str | os.PathLike[str], out: str | os.PathLike[str], *,
                      assignments: Iterable[str] | None = None,
                      roster: str | os.PathLike[str] | None = None,
                      canvas_ids: Mapping[str, int | str] | None = None,
                      missing: str = "blank", points_row: bool = True) -> Path:
    """Write the gradebook as a CSV that Canvas's gradebook import accepts.

    See the module docstring for the format. One row per student in the
    gradebook (or per roster row matched to one), then scores as points after
    nbgrader's late penalty (``max(0, score - penalty)``, as ``nbgrader export``).

    Parameters
    ----------
    course_dir : path-like
    out : path-like
        The CSV to write (written to a temporary file, then renamed).
    assignments : iterable of str, optional
        Default: every assignment in the gradebook, by due date then name.
    roster : path-like, optional
        A Canvas gradebook export; students are matched by ``SIS Login ID`` or
        ``SIS User ID`` equal to the nbgrader id, and assignment columns named
        ``<assignment id> (<canvas id>)`` in its header are reused.
    canvas_ids : mapping, optional
        Assignment id to Canvas assignment id, overriding the roster.
    missing : {"blank", "zero"}, default "blank"
        What to write when a student has no submission.
    points_row : bool, default True
        Write the ``Points Possible`` row.

    Returns
    -------
    pathlib.Path
        `out`.

    Raises
    ------
    AssignmentNotFoundError
        If a requested assignment is not in the gradebook.
    GradingError
        If `missing` is invalid or `roster` is not a Canvas export.
    """
    from nbgrader.api import Gradebook, MissingEntry

    if missing not in ("blank", "zero"):
        raise GradingError(f"missing must be 'blank' or 'zero', not {missing!r}")
    root = course_path(course_dir)
    db, course_id = gradebook_file(root)
    people, roster_cols = _read_roster(roster) if roster else ([], {})
    by_login = {}
    for r in people:
        for key in ("SIS Login ID", "SIS User ID"):
            if r.get(key, "").strip():
                by_login.setdefault(r[key].strip().lower(), r)
    out = Path(out)
    with Gradebook(f"sqlite:///{db}", course_id) as gb:
        names = [a.name for a in gb.assignments] if assignments is None else list(assignments)
        objs = []
        for n in names:
            try:
                objs.append(gb.find_assignment(n))
            except MissingEntry:
                raise AssignmentNotFoundError(f"assignment {n!r} is not in the gradebook") from None
        header = list(CANVAS_ID_COLUMNS)
        for a in objs:
            cid = (canvas_ids or {}).get(a.name)
            header.append(f"{a.name} ({cid})" if cid is not None else roster_cols.get(a.name, a.name))
        rows = []
        if points_row:
            rows.append([_POINTS_LABEL, "", "", "", ""] + [_fmt(float(a.max_score)) for a in objs])
        for st in sorted(gb.students, key=lambda s: ((s.last_name or s.id).lower(), s.id)):
            r = by_login.get(st.id.lower())
            if r is not None:
                ident = [r["Student"], r["ID"], r["SIS User ID"], r["SIS Login ID"], r["Section"]]
            else:
                name = f"{st.last_name}, {st.first_name}" if st.last_name and st.first_name else st.id
                ident = [name, st.lms_user_id or "", "", st.id, ""]
            scores = []
            for a in objs:
                try:
                    sub = gb.find_submission(a.name, st.id)
                except MissingEntry:
                    scores.append("0" if missing == "zero" else "")
                else:
                    penalty = sub.late_submission_penalty or 0.0
                    scores.append(_fmt(max(0.0, float(sub.score) - float(penalty))))
            rows.append(ident + scores)
    with atomic_path(out) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
    return out


def report(course_dir: str | os.PathLike[str], assignment: str,
           out_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Write a per-question score table (CSV) and bar plot (PNG) for an assignment.

    Parameters
    ----------
    course_dir : path-like
    assignment : str
    out_dir : path-like, optional
        Default ``<course_dir>/reports``.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        ``<assignment>-questions.csv`` (one row per question: ``max_score``,
        ``mean``, ``median``, ``share_full_marks``, ``n_submissions``,
        ``n_needs_manual_grade``) and ``<assignment>-questions.png``.

    Raises
    ------
    AssignmentNotFoundError
    GradingError
        If nobody has been graded yet.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    root = course_path(course_dir)
    df = grade_table(root, assignment)
    if df.empty:
        raise GradingError(f"no graded submissions for {assignment!r}")
    order = _question_order(root, assignment)
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
    out = Path(out_dir) if out_dir is not None else root / "reports"
    csv_path, png_path = out / f"{assignment}-questions.csv", out / f"{assignment}-questions.png"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, float_format="%.4g")

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
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return csv_path, png_path
