"""The manifest that marks a dataset complete, and the generator version it records.

A dataset folder is complete when its ``manifest.json`` exists (generation writes it last, then
renames the folder into place). The generator version changes whenever the same profile and seed
would give different data, so a dataset made by an older generator is known to be stale: lessons
state what the current world shows.
"""

import json
from pathlib import Path

from ._errors import DatasetNotFoundError

__all__ = ["MANIFEST", "GENERATOR_VERSION", "read_manifest", "is_current"]

MANIFEST = "manifest.json"
#: 2: the world in time (wage growth, rules by year, the 2020 shock, pandemic programs, churn, recalls).
GENERATOR_VERSION = "2"


def read_manifest(dataset):
    """The manifest of a complete dataset, or raise :class:`DatasetNotFoundError`."""
    try:
        return json.loads((Path(dataset) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetNotFoundError(f"no complete dataset at {dataset} (no {MANIFEST}); "
                                   "generate one with `statelab-data generate`") from None


def is_current(dataset):
    """Whether ``dataset`` is complete and was made by this generator version."""
    try:
        return read_manifest(dataset).get("generator_version") == GENERATOR_VERSION
    except (DatasetNotFoundError, ValueError):
        return False
