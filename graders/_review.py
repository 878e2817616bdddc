"""Submissions held for review: who, why, and the instructor's clearance once the code is read.

:func:`graders.autograde_class` never runs a submission whose code the screen flags as
``integrity`` (see :mod:`graders._screen`); it records it with zero and flags it. This
module keeps the two records an instructor needs around that decision, both in
``<course>/reports/<assignment>/``:

``screening.csv``
    Every finding of the screen, one row each (student, notebook, kind, cell, reason and
    the line of code), for the whole class: a run for some students replaces only their rows.
``cleared.json``
    The submissions an instructor has read and accepted, each with a SHA-256 digest of the
    submitted files. A later run of the whole class grades them normally; a new
    submission from the same student (another digest) is screened and held again.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from ._atomic import atomic_path
from ._course import Course, CourseLike
from ._screen import FINDING_COLUMNS, Finding, screen_submission

__all__ = ["SCREENING_FILE", "CLEARED_FILE", "submission_digest", "cleared_submissions",
           "record_clearance", "accepted_students", "write_findings", "held_for_review"]

SCREENING_FILE = "screening.csv"
CLEARED_FILE = "cleared.json"


def submission_digest(course: Course, assignment: str, student: str) -> str:
    """SHA-256 over the names and bytes of the submitted notebooks of one student."""
    folder = course.folder("submitted", assignment, student)
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.ipynb")):
        h.update(p.relative_to(folder).as_posix().encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def cleared_submissions(course: CourseLike, assignment: str) -> dict[str, str]:
    """Student id to the digest of the submission an instructor cleared (``{}`` if none)."""
    course = Course.open(course)
    path = course.reports(assignment) / CLEARED_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def record_clearance(course: Course, assignment: str, students: Iterable[str]) -> None:
    """Add `students`' current submissions to ``cleared.json`` (written whole, then renamed)."""
    students = sorted(set(students))
    if not students:
        return
    data = cleared_submissions(course, assignment)
    data.update({s: submission_digest(course, assignment, s) for s in students})
    with atomic_path(course.reports(assignment) / CLEARED_FILE) as tmp:
        tmp.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n", encoding="utf-8")


def accepted_students(course: Course, assignment: str, students: Iterable[str],
                      cleared: Iterable[str] = ()) -> set[str]:
    """Of `students`, those cleared now or cleared before with the same submission."""
    before = cleared_submissions(course, assignment)
    now = set(cleared)
    return {s for s in students
            if s in now or (s in before and before[s] == submission_digest(course, assignment, s))}


def write_findings(course: Course, assignment: str, findings: Iterable[Finding], students: Iterable[str]) -> Path:
    """Replace the rows of `students` in ``screening.csv`` by `findings`; keep everyone else's."""
    out = course.reports(assignment) / SCREENING_FILE
    replaced = set(students)
    rows: list[dict[str, str]] = []
    if out.exists():
        with open(out, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames and set(reader.fieldnames) <= set(FINDING_COLUMNS):
                rows = [r for r in reader if r.get("student") not in replaced]
    rows += [{c: getattr(f, c) for c in FINDING_COLUMNS} for f in findings]
    rows.sort(key=lambda r: r["student"])
    with atomic_path(out) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=FINDING_COLUMNS, restval="", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    return out


def held_for_review(course: CourseLike, assignment: str) -> dict[str, list[Finding]]:
    """Students whose submission the autograder will not run, with the findings that hold it.

    The submissions are screened again (it reads files only), so the answer is current even
    after a student resubmits; cleared submissions are left out.

    Parameters
    ----------
    course : path-like or Course
    assignment : str

    Returns
    -------
    dict of str to list of Finding
        Only ``integrity`` findings; students sorted.
    """
    course = Course.open(course)
    students = course.students("submitted", assignment)
    ok = accepted_students(course, assignment, students)
    held: dict[str, list[Finding]] = {}
    for s in students:
        if s in ok:
            continue
        found = [f for f in screen_submission(course, assignment, s) if f.kind == "integrity"]
        if found:
            held[s] = found
    return held
