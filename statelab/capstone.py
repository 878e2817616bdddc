"""The capstone's project menu: the questions a state team brings, as data, and the folder a team's work
is kept in.

Each :class:`Project` records what a team needs to scope the work before touching the records: the
policy question, the tables it draws on, the cohort definition, the measures and the disclosure risks a
reviewer will look for. The capstone lesson shows the menu with :func:`menu` and works one project end
to end; the learner's notebook picks another with :func:`project`. :func:`project_folder` gives each
project a folder that outlives the notebook: the export package written there is what the team's
presentation draws every number from.

Example
-------
>>> from statelab import capstone
>>> capstone.project("ui-reemployment").tables
('ui_claim', 'ui_wage')
>>> len(capstone.menu())
4
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd

__all__ = ["PROJECTS", "PROJECTS_DIR_ENV", "Project", "menu", "project", "project_folder"]

#: Environment variable naming the folder that holds every project's folder (default ``~/statelab-projects``).
PROJECTS_DIR_ENV = "STATELAB_PROJECTS_DIR"


@dataclasses.dataclass(frozen=True)
class Project:
    """One project question on the capstone menu.

    Attributes
    ----------
    key : str
        Short identifier, e.g. ``"ui-reemployment"``.
    title : str
        The question as a team would phrase it.
    question : str
        The policy question the team's agency asked.
    tables : tuple of str
        Learner tables the work needs.
    cohort : str
        Who is counted, and the reference period.
    measures : str
        What is measured for them, and with which course function.
    disclosure_risks : str
        What a disclosure reviewer will look for in the results.
    """

    key: str
    title: str
    question: str
    tables: tuple[str, ...]
    cohort: str
    measures: str
    disclosure_risks: str


#: The four projects on the menu, in the order the lesson presents them.
PROJECTS: tuple[Project, ...] = (
    Project(
        key="completers-cross-state",
        title="Employment and earnings of 2021 community-college completers, in-state vs across state lines",
        question=("How many of our 2021 public two-year college completers are working a year later, and how "
                  "many would we miss if we looked only at our own state's wage records?"),
        tables=("postsec_completion", "institution", "ui_wage"),
        cohort=("Completers of a certificate or associate degree at a public two-year institution with an "
                "award date in 2021 and a usable SSN; one row per person (first award); exit quarter = award "
                "quarter."),
        measures=("Employment in the 2nd and 4th quarter after the award quarter and median Q2 earnings, "
                  "counting only the college's own state (states='home') and then all four states "
                  "(measures.exit_outcome_rates)."),
        disclosure_risks=("Small colleges and programs give cells under the minimum cell size; completers "
                          "working across a "
                          "state line are few, so the difference between the two rates can isolate people; "
                          "medians must be fuzzy."),
    ),
    Project(
        key="ui-reemployment",
        title="Re-employment of UI claimants by separation reason",
        question=("Do claimants who quit or were discharged find work as quickly as those laid off for lack "
                  "of work or because their employer closed?"),
        tables=("ui_claim", "ui_wage"),
        cohort=("Initial UI claims filed in 2022 with a usable SSN; one row per claimant and filing "
                "quarter; the filing quarter plays the role of the exit quarter."),
        measures=("Employment in the 2nd and 4th quarter after the filing quarter, in any state's wage "
                  "records, and median Q2 earnings of the re-employed, by separation reason "
                  "(measures.exit_outcome_rates)."),
        disclosure_risks=("Discharges and closures are rarer than layoffs, so a reason can fall under the "
                          "minimum cell size; "
                          "with a total row, one hidden cell can be recovered by subtraction (complementary "
                          "suppression); medians must be fuzzy."),
    ),
    Project(
        key="tanf-county-earnings",
        title="TANF leavers' earnings four quarters after exit by county",
        question=("Are families leaving TANF in some counties earning less a year later than in others, so "
                  "that follow-up services should be targeted there?"),
        tables=("tanf", "ui_wage", "ref_county"),
        cohort=("Heads of TANF cases whose spell ended in 2021 (no TANF in the next two months) with a "
                "usable SSN; exit quarter = quarter of the last month on assistance."),
        measures=("Employment and earnings in the 4th quarter after exit (measures.exit_outcomes), by "
                  "county, with counties too small combined into regions."),
        disclosure_risks=("Most counties have fewer leavers than the minimum cell size; earnings medians "
                          "are one person's "
                          "value; a county total next to a state total exposes the rest of the state."),
    ),
    Project(
        key="manufacturing-flows",
        title="Which sectors absorbed workers leaving manufacturing",
        question=("When workers leave manufacturing jobs, which industries hire them, and do they keep "
                  "their earnings?"),
        tables=("ui_wage", "employer", "ref_naics"),
        cohort=("Job changers whose main employer in quarter t-1 was in manufacturing (NAICS 31-33) and "
                "whose main employer in quarter t, in 2021-2023, was another employer."),
        measures=("Worker flows from manufacturing to each destination sector (measures.worker_flows); "
                  "employers behind each flow."),
        disclosure_risks=("Employer data: each cell needs at least 3 employers and no employer above 80%; "
                          "a single large plant closing can dominate a flow."),
    ),
)


def project(key: str) -> Project:
    """The menu entry with this ``key``.

    Raises
    ------
    ValueError
        If no project has that key (the known keys are listed).
    """
    for p in PROJECTS:
        if p.key == key:
            return p
    raise ValueError(f"no capstone project {key!r}; choose one of {[p.key for p in PROJECTS]}")


def menu() -> pd.DataFrame:
    """The menu as a table: one row per project, one column per field of :class:`Project`."""
    rows = [dataclasses.asdict(p) | {"tables": ", ".join(p.tables)} for p in PROJECTS]
    return pd.DataFrame(rows, columns=[f.name for f in dataclasses.fields(Project)]).set_index("key")


def project_folder(key: str, *, root: str | os.PathLike | None = None) -> Path:
    """The folder where a team keeps a project's work, created if needed, and kept after the notebook ends.

    The export package goes here (for example ``prepare_export(folder / "export", ..., overwrite=True)``),
    so the slides and the memo can quote it at any time; a temporary folder would vanish with the kernel.

    Parameters
    ----------
    key : str
        A menu key (see :func:`menu`), or a short name of the team's own project: letters, digits, ``-``
        and ``_`` only, so it is a safe folder name.
    root : str or path-like, optional, keyword-only
        The folder holding every project's folder. Default: ``$STATELAB_PROJECTS_DIR``, else
        ``~/statelab-projects`` (in the learner's home, like the data's ``~/statelab-data``).

    Returns
    -------
    pathlib.Path
        ``<root>/<key>``, existing.

    Raises
    ------
    ValueError
        If ``key`` is empty or holds other characters (it is quoted).
    OSError
        If the folder cannot be created (the message names it).
    """
    if not isinstance(key, str) or not key or not all(c.isalnum() or c in "-_" for c in key):
        raise ValueError(f"a project key is letters, digits, '-' and '_' only, such as 'ui-reemployment'; "
                         f"got {key!r}")
    base = Path(root) if root is not None else Path(os.environ.get(PROJECTS_DIR_ENV) or
                                                    Path.home() / "statelab-projects")
    folder = base.expanduser() / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the project folder {str(folder)!r}: {exc.strerror or exc}; set "
                      f"{PROJECTS_DIR_ENV} to a folder you can write to") from exc
    return folder
