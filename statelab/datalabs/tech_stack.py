"""Data Labs unit 6: comparing technology stacks with explicit criteria and weights.

:func:`stack_options` lists six typical stacks scored 1-5 on :data:`STACK_CRITERIA` (the course's generic
judgments for a small state team, a starting point a team revises with its IT and security staff);
:func:`score_stack` ranks them under a team's weights. :data:`EXAMPLE_STACK_WEIGHTS` are the weights the
course's example linkage report uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

__all__ = ["STACK_CRITERIA", "EXAMPLE_STACK_WEIGHTS", "stack_options", "score_stack"]

#: Criteria for comparing technology stacks, with what a high score (5) means.
STACK_CRITERIA: dict[str, str] = {
    "cost": "low license and running cost",
    "skills": "the team's current staff can run it",
    "scale": "handles the state's largest files (wage records: hundreds of millions of rows)",
    "security": "access control, audit logs and encryption the agencies' security officers accept",
    "reproducibility": "code, data versions and environment can be rerun by someone else",
    "interoperability": "open formats and standard SQL, so partners and other states can reuse the work",
    "linkage": "record linkage tools available (probabilistic linkage, clerical review)",
}

_STACKS = [
    ("Embedded SQL engine + Python notebooks", "DuckDB, Python, Parquet files, Git",
     {"cost": 5, "skills": 3, "scale": 3, "security": 2, "reproducibility": 5, "interoperability": 5, "linkage": 4},
     "Runs on one secure workstation or server; security comes from the host, not the tool."),
    ("Relational database server + Python/R", "PostgreSQL, Python or R, Git",
     {"cost": 4, "skills": 3, "scale": 4, "security": 4, "reproducibility": 4, "interoperability": 5, "linkage": 3},
     "Role-based access and auditing built in; needs a database administrator."),
    ("Statistical package on a secure server", "SAS or Stata on an agency server",
     {"cost": 2, "skills": 5, "scale": 3, "security": 4, "reproducibility": 3, "interoperability": 2, "linkage": 3},
     "Often what analysts already know; licenses per seat; proprietary formats."),
    ("Cloud data warehouse", "A managed SQL warehouse with BI dashboards",
     {"cost": 2, "skills": 3, "scale": 5, "security": 4, "reproducibility": 3, "interoperability": 4, "linkage": 3},
     "Needs a cloud authorization and a data-residency review; cost grows with use."),
    ("Distributed processing platform", "Spark on a managed cluster, notebooks, Git",
     {"cost": 2, "skills": 1, "scale": 5, "security": 3, "reproducibility": 4, "interoperability": 4, "linkage": 5},
     "Built for very large files; more engineering than most state teams have."),
    ("Managed secure research enclave", "A hosted enclave with export review (ADRF-style)",
     {"cost": 3, "skills": 4, "scale": 4, "security": 5, "reproducibility": 4, "interoperability": 3, "linkage": 3},
     "Governance, disclosure review and training come with the service; less control over tools."),
]


def stack_options() -> pd.DataFrame:
    """Candidate technology stacks scored 1-5 on :data:`STACK_CRITERIA` (a starting point to revise).

    The scores are the course's generic judgments for a small state team; a team replaces them with
    its own after talking to its IT and security staff.

    Returns
    -------
    pandas.DataFrame
        ``option, components, <criterion>..., note``.
    """
    rows = [{"option": o, "components": c, **scores, "note": note} for o, c, scores, note in _STACKS]
    return pd.DataFrame(rows, columns=["option", "components", *STACK_CRITERIA, "note"])


def score_stack(options: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """Weighted scores of stack options, best first.

    Parameters
    ----------
    options : pandas.DataFrame
        A table like :func:`stack_options` (``option`` and one column per criterion).
    weights : mapping
        Criterion -> weight (non-negative; normalized to sum to 1). Criteria left out weigh 0.

    Returns
    -------
    pandas.DataFrame
        ``option, score`` (on the 1-5 scale) and a ``rank``.
    """
    if not isinstance(options, pd.DataFrame) or "option" not in options.columns:
        raise TypeError("options must be a DataFrame with an 'option' column, such as stack_options()")
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(f"weights must be a non-empty mapping of criterion -> weight, got {weights!r}")
    unknown = [k for k in weights if k not in options.columns]
    if unknown:
        raise ValueError(f"unknown criteria {unknown!r}; the options table has {list(options.columns)}")
    bad = {k: v for k, v in weights.items()
           if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"weights must be non-negative numbers, got {bad!r}")
    total = float(sum(weights.values()))
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    score = sum(options[k].astype(float) * (w / total) for k, w in weights.items())
    out = pd.DataFrame({"option": options["option"], "score": score.round(2)})
    out = out.sort_values(["score", "option"], ascending=[False, True]).reset_index(drop=True)
    out["rank"] = range(1, len(out) + 1)
    return out


#: Weights the example report uses when scoring the stack options.
EXAMPLE_STACK_WEIGHTS = {"cost": 2, "skills": 2, "scale": 1, "security": 2, "reproducibility": 2,
                         "interoperability": 1, "linkage": 1}
