"""The team project that runs through the course: the scoping document and the numbers on the slides.

A team writes its **scoping document** before it writes SQL (the project notebook
``modules/project/01-scoping-document.ipynb``), and every number it presents comes from its
**disclosure-reviewed export package** (``statelab.disclosure.prepare_export``), read back with
:func:`release_table`, never from the working tables::

    from statelab import project
    scope = project.scoping_document(team="Team Ohio River", **project.from_menu("ui-reemployment"))
    scope.missing()                      # what the team still has to write
    scope.display(draft=True)            # the document as it stands
    table = project.release_table("exports/status-q2", "reemployment_by_reason")

:func:`release_table` checks each file against the package's manifest (its SHA-256), so a release table
edited after review, or a file from the package's not-for-release folder, is refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from . import capstone
from .datalabs.deliverables import Deliverable, DeliverableSpec
from .disclosure import NOT_FOR_RELEASE

__all__ = ["ProjectError", "SCOPING", "from_menu", "release_table", "release_tables", "scoping_document"]

_TEMPLATES = Path(__file__).with_name("templates")


class ProjectError(ValueError):
    """A project file that cannot be used as it is (an export package changed after review, for example)."""


#: The scoping document: what a team must decide before touching the records.
SCOPING = DeliverableSpec(
    kind="project_scope",
    title="Project scoping document",
    required=("question", "decision", "population", "period", "unit", "data", "measures", "comparison",
              "ethics", "disclosure_plan"),
    optional=("team", "from_menu", "risks"),
    template="project_scope.md.j2",
    template_dir=_TEMPLATES,
    description="Question, decision it informs, population, data, measures, ethics and disclosure plan.",
)


def from_menu(key: str) -> dict:
    """Fields of a scoping document started from a capstone menu project (``statelab.capstone``).

    The question, population, data, measures and the disclosure risks come from the menu; the decision, the
    period, the unit, the comparison and the ethics are left for the team, because the menu cannot know them.

    Raises
    ------
    ValueError
        If ``key`` is not on the menu (the known keys are listed).
    """
    p = capstone.project(key)
    return {
        "from_menu": p.title,
        "question": p.question,
        "population": p.cohort,
        "data": list(p.tables),
        "measures": [p.measures],
        "disclosure_plan": f"Risks a reviewer will look for: {p.disclosure_risks}",
    }


def scoping_document(*, team: str | None = None, **fields) -> Deliverable:
    """A scoping document to fill in: ``missing()`` lists what is left, ``display(draft=True)`` shows it.

    Parameters
    ----------
    team : str, optional
        The team's name, printed on the document.
    **fields
        Any of ``SCOPING.required`` and ``SCOPING.optional`` (for example from :func:`from_menu`).

    Raises
    ------
    TypeError
        If a field is not part of the scoping document (the known fields are listed).
    """
    known = set(SCOPING.required) | set(SCOPING.optional)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise TypeError(f"the scoping document has no field {unknown[0]!r}; its fields are {sorted(known)}")
    return Deliverable(SCOPING, {**fields, "team": team}, draft=True)


def _manifest(package: Path) -> dict:
    path = package / "manifest.json"
    if not path.is_file():
        raise ProjectError(f"{str(package)!r} is not an export package (no manifest.json): write one with "
                           "statelab.disclosure.prepare_export")
    return json.loads(path.read_text(encoding="utf-8"))


def release_table(package: str | Path, name: str) -> pd.DataFrame:
    """Release table ``name`` of an export package, as reviewed.

    Parameters
    ----------
    package : str or Path
        The folder ``statelab.disclosure.prepare_export`` wrote.
    name : str
        The table's name (``release/<name>.csv``).

    Raises
    ------
    ProjectError
        If the folder is not an export package, the table is not in it, the file was changed after the
        package was written (its SHA-256 differs from the manifest's), or the name points at the
        not-for-release folder.
    """
    package = Path(package)
    manifest = _manifest(package)
    if NOT_FOR_RELEASE in str(name) or "/" in str(name) or "\\" in str(name):
        raise ProjectError(f"{name!r} is not a release table: slides and briefs use release/<name>.csv only")
    rel = f"release/{name}.csv"
    entry = next((f for f in manifest.get("files", []) if f.get("path") == rel), None)
    if entry is None or not entry.get("for_release"):
        raise ProjectError(f"{str(package)!r} has no release table {name!r}; it has {manifest.get('tables', [])}")
    data = (package / rel).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise ProjectError(f"{rel} in {str(package)!r} changed after the package was reviewed: write the package "
                           "again with prepare_export instead of editing its files")
    return pd.read_csv(package / rel)


def release_tables(package: str | Path) -> dict[str, pd.DataFrame]:
    """Every release table of an export package, by name (each checked as in :func:`release_table`)."""
    return {name: release_table(package, name) for name in _manifest(Path(package)).get("tables", [])}
