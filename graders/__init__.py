"""Instructor tooling for the statelab course, built on nbgrader's Python API.

A term, from the course directory ``assignments/`` (the instructor guide,
``book/instructor/nbgrader-term.md``, walks through it)::

    statelab-grade students import canvas-export.csv   # the roster, into nbgrader's gradebook
    statelab-grade release 01-orientation              # generate_assignment (+ --exchange)
    statelab-grade collect 01-orientation --from-dir downloads/
    statelab-grade autograde 01-orientation            # parallel; a table of every decision
    statelab-grade review 01-orientation               # submissions held for review, with the code
    statelab-grade autograde 01-orientation --clear ana   # grade a held one once read
    statelab-grade feedback 01-orientation             # hidden tests redacted
    statelab-grade export grades.csv                   # Canvas gradebook import
    statelab-grade report 01-orientation               # per-question CSV, PNG and HTML page

The same steps are functions here; each takes the course first, as a folder or as a
:class:`Course` (nbgrader's ``CourseDirectory`` with the course's conventions). Names are
imported on first use, so ``import graders`` (and the command line's ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._errors import (
    AssignmentNotFoundError,
    CourseDirectoryError,
    CoursePermissionError,
    FeedbackLeakError,
    GradebookLockedError,
    GradingError,
    NbgraderStepError,
    RosterError,
    StudentNotFoundError,
    SubmissionError,
    UngradedWorkError,
)

#: Public name -> the private module that defines it (imported when the name is first used).
_LAZY = {
    "Course": "_course", "load_config": "_course", "make_api": "_course",
    "set_parameters": "_params",
    "release_assignments": "_release", "check_release": "_release", "collect_submissions": "_release",
    "AutogradeResult": "_autograde", "autograde_class": "_autograde", "autograde_sequential": "_autograde",
    "Finding": "_screen", "screen_submission": "_screen", "findings_table": "_screen",
    "held_for_review": "_review", "cleared_submissions": "_review",
    "CapOutputs": "_outputs",
    "RedactHiddenTests": "_feedback", "FeedbackGrades": "_feedback", "AccessibleTables": "_feedback",
    "FeedbackExporter": "_feedback",
    "generate_feedback": "_feedback", "hidden_test_lines": "_feedback", "find_leaks": "_feedback",
    "final_score": "_results",
    "CANVAS_ID_COLUMNS": "_roster", "read_roster": "_roster", "import_students": "_roster",
    "list_students": "_roster",
    "grade_table": "_export", "export_canvas_csv": "_export", "report": "_export", "ReportFiles": "_export",
}

__all__ = [
    # errors
    "GradingError",
    "CourseDirectoryError",
    "CoursePermissionError",
    "GradebookLockedError",
    "AssignmentNotFoundError",
    "StudentNotFoundError",
    "SubmissionError",
    "RosterError",
    "UngradedWorkError",
    "NbgraderStepError",
    "FeedbackLeakError",
    # the course
    "Course",
    "load_config",
    "make_api",
    "set_parameters",
    # the term
    "read_roster",
    "import_students",
    "list_students",
    "release_assignments",
    "check_release",
    "collect_submissions",
    "AutogradeResult",
    "autograde_class",
    "autograde_sequential",
    "Finding",
    "screen_submission",
    "findings_table",
    "held_for_review",
    "cleared_submissions",
    "CapOutputs",
    "RedactHiddenTests",
    "FeedbackGrades",
    "AccessibleTables",
    "FeedbackExporter",
    "generate_feedback",
    "hidden_test_lines",
    "find_leaks",
    "final_score",
    "CANVAS_ID_COLUMNS",
    "grade_table",
    "export_canvas_csv",
    "report",
    "ReportFiles",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'graders' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
