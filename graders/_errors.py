"""Exceptions raised by :mod:`graders`.

Every exception derives from :class:`GradingError`, and also from the built-in
exception a caller would naturally catch for that situation, so
``except FileNotFoundError`` keeps working around a missing course directory.
The command line maps each class to its own exit code (see
:data:`graders._cli.EXIT_CODES`).
"""

from __future__ import annotations

__all__ = [
    "GradingError",
    "CourseDirectoryError",
    "AssignmentNotFoundError",
    "SubmissionError",
    "NbgraderStepError",
    "FeedbackLeakError",
]


class GradingError(Exception):
    """Base class for every error raised by the grading tools."""


class CourseDirectoryError(GradingError, FileNotFoundError):
    """The course directory, its ``nbgrader_config.py`` or a needed folder is missing."""


class AssignmentNotFoundError(GradingError, LookupError):
    """An assignment is missing from ``source/``, ``release/`` or the gradebook."""


class SubmissionError(GradingError, ValueError):
    """A submission folder or file is malformed or cannot be matched to a student."""


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
