"""Instructor tooling for the statelab course, built on nbgrader's Python API.

Typical term, from the course directory ``assignments/``::

    statelab-grade release                     # generate_assignment (+ --exchange)
    statelab-grade collect 01-orientation --from-dir downloads/
    statelab-grade autograde 01-orientation --workers 4
    statelab-grade feedback 01-orientation     # hidden tests redacted
    statelab-grade export grades.csv           # Canvas gradebook import
    statelab-grade report 01-orientation       # per-question CSV + PNG

The same steps are functions here; every one takes the course directory first.
"""

from __future__ import annotations

from ._autograde import AutogradeResult, autograde_class, autograde_sequential
from ._course import load_config, make_api, source_assignments, submitted_students
from ._errors import (
    AssignmentNotFoundError,
    CourseDirectoryError,
    FeedbackLeakError,
    GradingError,
    NbgraderStepError,
    SubmissionError,
)
from ._export import CANVAS_ID_COLUMNS, export_canvas_csv, grade_table, report
from ._feedback import RedactHiddenTests, find_leaks, generate_feedback, hidden_test_lines
from ._outputs import CapOutputs
from ._params import set_parameters
from ._screen import Finding, findings_table, screen_submission
from ._release import check_release, collect_submissions, release_assignments

__all__ = [
    # errors
    "GradingError",
    "CourseDirectoryError",
    "AssignmentNotFoundError",
    "SubmissionError",
    "NbgraderStepError",
    "FeedbackLeakError",
    # course directory
    "load_config",
    "make_api",
    "source_assignments",
    "submitted_students",
    "set_parameters",
    # workflow
    "release_assignments",
    "check_release",
    "collect_submissions",
    "AutogradeResult",
    "autograde_class",
    "autograde_sequential",
    "Finding",
    "screen_submission",
    "findings_table",
    "CapOutputs",
    "RedactHiddenTests",
    "generate_feedback",
    "hidden_test_lines",
    "find_leaks",
    "CANVAS_ID_COLUMNS",
    "grade_table",
    "export_canvas_csv",
    "report",
]
