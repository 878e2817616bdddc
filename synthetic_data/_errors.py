"""The package's error hierarchy.

Every error is a :class:`StatelabError` and also the built-in it most resembles,
so callers can catch either ``StatelabError`` or, say, ``ValueError``.
"""

__all__ = [
    "StatelabError",
    "ProfileError",
    "SeedError",
    "OutputError",
    "DatasetNotFoundError",
    "SchemaError",
    "ValidationError",
    "CalibrationError",
]


class StatelabError(Exception):
    """Base class for every error raised by ``synthetic_data``."""


class ProfileError(StatelabError, ValueError):
    """A profile name or profile file is unknown or malformed."""


class SeedError(StatelabError, TypeError):
    """A seed is not a non-negative integer."""


class OutputError(StatelabError, OSError):
    """The output folder cannot be written (permissions, full disk, existing dataset)."""


class DatasetNotFoundError(StatelabError, FileNotFoundError):
    """No complete dataset exists where one was expected."""


class SchemaError(StatelabError, ValueError):
    """The schema metadata shipped with the package is inconsistent."""


class ValidationError(StatelabError, ValueError):
    """Generated data breaks a schema rule or an invariant.

    ``failures`` lists one human-readable line per broken rule, each naming the
    table and column concerned.
    """

    def __init__(self, failures):
        self.failures = list(failures)
        shown = "\n  ".join(self.failures[:20])
        more = f"\n  ... and {len(self.failures) - 20} more" if len(self.failures) > 20 else ""
        super().__init__(f"{len(self.failures)} validation failure(s):\n  {shown}{more}")


class CalibrationError(StatelabError, ValueError):
    """A calibration target file is malformed, or a target's SQL fails on the dataset.

    The message names the file, the target id and the problem on one line.
    """
