"""Exceptions raised by :mod:`graders`, and the one reader of nbgrader's error logs.

Every exception derives from :class:`GradingError`, and also from the built-in
exception a caller would naturally catch for that situation, so
``except FileNotFoundError`` keeps working around a missing course directory.
The command line maps each class to its own exit code (see
:data:`graders._cli.EXIT_CODES`). Messages are one line: what is wrong, then
what to do.
"""

from __future__ import annotations

import re

__all__ = [
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
    "error_line",
]


class GradingError(Exception):
    """Base class for every error raised by the grading tools."""


class CourseDirectoryError(GradingError, FileNotFoundError):
    """The course directory, its ``nbgrader_config.py`` or a needed folder is missing."""


class CoursePermissionError(GradingError, PermissionError):
    """The course directory or the gradebook cannot be written by this account."""


class GradebookLockedError(GradingError, TimeoutError):
    """Another program held the gradebook's lock for longer than SQLite waits."""


class AssignmentNotFoundError(GradingError, LookupError):
    """An assignment is missing from ``source/``, ``release/`` or the gradebook."""


class StudentNotFoundError(GradingError, LookupError):
    """A student named on the command line has no submission or no gradebook entry."""


class SubmissionError(GradingError, ValueError):
    """A submission folder or file is malformed or cannot be matched to a student."""


class RosterError(GradingError, ValueError):
    """A roster file is missing, unreadable or not in a known layout."""


class UngradedWorkError(GradingError, ValueError):
    """Written answers still wait for manual grading, so a score would be a silent zero.

    Parameters
    ----------
    message : str
    ungraded : dict of str to list of str, optional
        Student id to the questions (nbgrader ``grade_id``) not yet graded by hand.
    """

    def __init__(self, message: str, ungraded: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.ungraded: dict[str, list[str]] = dict(ungraded or {})


class NbgraderStepError(GradingError, RuntimeError):
    """An nbgrader step (generate, release, collect, autograde, feedback) reported failure.

    Parameters
    ----------
    message : str
        What failed.
    failures : dict of str to str, optional
        Per-item error text (for example student id to nbgrader's log), kept for
        reports and tests.
    """

    def __init__(self, message: str, failures: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.failures: dict[str, str] = dict(failures or {})


class FeedbackLeakError(GradingError, RuntimeError):
    """Generated feedback still shows hidden test source; the file was removed."""


#: ``SomeError: message`` or ``package.module.SomeError: message``: a dotted path ending in a class name.
_ERROR_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*: ")


def error_line(text: str | None) -> str:
    """The most telling line of nbgrader's log: its last ``SomeError: message`` line.

    nbgrader ends a failed step with its own generic ``nbgrader....NbGraderException: Please
    see the above traceback`` line; that one is skipped. Without any error line, the last
    non-blank line; without text, ``"no error text"``.

    Parameters
    ----------
    text : str or None
        nbgrader's log and error output.

    Returns
    -------
    str
    """
    lines = [ln.strip() for ln in (text or "").splitlines()]
    errors = [ln for ln in lines if _ERROR_LINE.match(ln) and not ln.startswith("nbgrader.")]
    rest = [ln for ln in lines if ln and not ln.startswith("nbgrader.")]
    return errors[-1] if errors else (rest[-1] if rest else "no error text")
