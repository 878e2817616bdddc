"""The class roster: one reader for the files instructors have, one writer into nbgrader's gradebook.

Two layouts are read, told apart by their header:

Canvas gradebook export (Grades > Export)
    ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per assignment
    (``Title (12345)``). The student id is the ``SIS Login ID`` (else the ``SIS User ID``),
    which should be the hub login; ``Student`` is ``Last, First``; ``ID`` is Canvas's user
    id, kept as nbgrader's ``lms_user_id`` so the grade export can match rows. The
    ``Points Possible`` row is skipped, and so is any row without a login (Canvas's own
    "Test Student"), each listed in ``Roster.skipped``.
nbgrader's student CSV (``nbgrader db student import``)
    ``id`` and optionally ``first_name, last_name, email, lms_user_id``.

Any other file is refused with one line naming the problem (missing, not UTF-8, not
CSV, an unknown header, a row of the wrong length, an unusable or repeated id), before
anything is written. The import then writes every row in one transaction.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ._course import Course, CourseLike
from ._errors import RosterError

__all__ = ["STUDENT_ID", "CANVAS_ID_COLUMNS", "Person", "Roster", "read_roster", "import_students",
           "list_students"]

#: What a student id may look like: a hub login (letters, digits and ``_ . @ + -``).
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
#: The identity columns that open every Canvas gradebook CSV, in order.
CANVAS_ID_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
_NBGRADER_COLUMNS = ("id", "first_name", "last_name", "email", "lms_user_id")
_CANVAS_COL = re.compile(r"^(?P<name>.*?)\s*\((?P<id>\d+)\)\s*$")


@dataclass(frozen=True)
class Person:
    """One student of a roster.

    Attributes
    ----------
    id : str
        nbgrader's student id (the hub login).
    first_name, last_name, email, lms_user_id : str or None
    canvas : tuple of str or None
        The five Canvas identity cells as exported (``Student`` ... ``Section``), when read
        from a Canvas file.
    """

    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    lms_user_id: str | None = None
    canvas: tuple[str, ...] | None = None


@dataclass
class Roster:
    """A roster file, read and checked.

    Attributes
    ----------
    path : pathlib.Path
    layout : {"canvas", "nbgrader"}
    people : list of Person
    skipped : list of str
        Rows left out, each described (``"line 4 (Student, Test): no SIS Login ID"``).
    canvas_columns : dict of str to str
        Assignment title to its Canvas column header (``"01-orientation (4242)"``).
    """

    path: Path
    layout: str
    people: list[Person] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    canvas_columns: dict[str, str] = field(default_factory=dict)


def _rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise RosterError(f"roster {path} not found: download it from Canvas (Grades > Export) or write a CSV "
                          "with columns id,first_name,last_name,email")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(f"roster {path} is not UTF-8 text (byte {exc.start}): save it as 'CSV UTF-8'") from None
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise RosterError(f"roster {path} is not valid CSV (line {reader.line_num}: {exc})") from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise RosterError(f"roster {path} is empty")
    return rows


def _split_name(name: str) -> tuple[str | None, str | None]:
    """Canvas writes ``Last, First``: (first, last)."""
    last, sep, first = name.partition(",")
    if not sep:
        return None, (name.strip() or None)
    return first.strip() or None, last.strip() or None


def read_roster(path: str | os.PathLike[str]) -> Roster:
    """Read and check a roster file (a Canvas gradebook export or nbgrader's student CSV).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    Roster

    Raises
    ------
    RosterError
        With the file and the line: missing, not UTF-8, not CSV, unknown header, a row of the
        wrong length, an id that cannot be a hub login, an id given twice, no student at all.
    """
    path = Path(path)
    rows = _rows(path)
    header = [h.strip() for h in rows[0]]
    if all(c in header for c in CANVAS_ID_COLUMNS):
        roster = Roster(path, "canvas")
        roster.canvas_columns = {m["name"]: col for col in header if col not in CANVAS_ID_COLUMNS
                                 and (m := _CANVAS_COL.match(col))}
    elif "id" in header:
        roster = Roster(path, "nbgrader")
    else:
        raise RosterError(f"roster {path}: header {header[:6]} is neither a Canvas gradebook export "
                          f"({', '.join(CANVAS_ID_COLUMNS)}) nor an nbgrader roster ({', '.join(_NBGRADER_COLUMNS)})")
    seen: dict[str, int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise RosterError(f"roster {path} line {lineno}: {len(row)} fields where the header has {len(header)}")
        rec = {h: c.strip() for h, c in zip(header, row)}
        if roster.layout == "canvas":
            if "Points Possible" in rec["Student"]:
                continue
            login = rec["SIS Login ID"] or rec["SIS User ID"]
            if not login:
                roster.skipped.append(f"line {lineno} ({rec['Student'] or 'no name'}): no SIS Login ID")
                continue
            first, last = _split_name(rec["Student"])
            person = Person(login, first, last, None, rec["ID"] or None, tuple(rec[c] for c in CANVAS_ID_COLUMNS))
        else:
            person = Person(rec["id"], *(rec.get(c) or None for c in _NBGRADER_COLUMNS[1:]))
        if not STUDENT_ID.match(person.id):
            raise RosterError(f"roster {path} line {lineno}: {person.id!r} is not a usable student id "
                              "(letters, digits and _ . @ + -, as in the hub login)")
        if person.id in seen:
            raise RosterError(f"roster {path} lines {seen[person.id]} and {lineno}: student {person.id!r} twice")
        seen[person.id] = lineno
        roster.people.append(person)
    if not roster.people:
        raise RosterError(f"roster {path} lists no student")
    return roster


def import_students(course: CourseLike, people: Roster | Iterable[Person]) -> dict[str, list[str]]:
    """Add or update students in nbgrader's gradebook, all in one transaction.

    A field the roster leaves empty keeps what the gradebook has.

    Parameters
    ----------
    course : path-like or Course
    people : Roster or iterable of Person

    Returns
    -------
    dict
        ``{"added": [...], "updated": [...], "unchanged": [...]}``, student ids.

    Raises
    ------
    CoursePermissionError, GradebookLockedError
        Nothing is written then.
    """
    from nbgrader.api import Student

    course = Course.open(course)
    people = list(people.people if isinstance(people, Roster) else people)
    course.require_writable()
    out: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": []}
    fields = ("first_name", "last_name", "email", "lms_user_id")
    with course.gradebook() as gb:
        existing = {s.id: s for s in gb.students}
        try:
            for p in people:
                st = existing.get(p.id)
                if st is None:
                    gb.db.add(Student(id=p.id, **{f: getattr(p, f) for f in fields}))
                    out["added"].append(p.id)
                    continue
                changes = {f: getattr(p, f) for f in fields
                           if getattr(p, f) is not None and getattr(p, f) != getattr(st, f)}
                for f, v in changes.items():
                    setattr(st, f, v)
                out["updated" if changes else "unchanged"].append(p.id)
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise
    return out


def list_students(course: CourseLike) -> list[dict[str, str | None]]:
    """Every student in the gradebook: id, first_name, last_name, email, lms_user_id; by id."""
    course = Course.open(course)
    if not course.db_path.exists():
        return []
    with course.gradebook() as gb:
        return [{"id": s.id, "first_name": s.first_name, "last_name": s.last_name, "email": s.email,
                 "lms_user_id": s.lms_user_id} for s in sorted(gb.students, key=lambda s: s.id)]
