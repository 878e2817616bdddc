"""The answer key behind the synthetic data, for the reveals an instructor runs at the end of a lesson.

Every record in the course data belongs to a true person, and every person has true earnings; the
generator keeps both in the ``truth`` schema of the dataset. A lesson may end with a *reveal* that scores
its estimates against that truth. The reveal must never reach learners through the published book (the
build sets ``STATELAB_BOOK_BUILD=1``) and cannot run on a learner server whose dataset was published
without its truth. :func:`open_answer_key` handles both cases in one place, and the functions below read
the truth so that no learner notebook names a truth table::

    from statelab import reveal

    key = reveal.open_answer_key(profile=profile, seed=seed, data_root=data_root)
    if key is not None:
        truth = reveal.true_pairs(key, "wioa", "ui_claim")
        key.close()
"""

from __future__ import annotations

import os

import pandas as pd

__all__ = [
    "BOOK_BUILD_MESSAGE",
    "NO_KEY_MESSAGE",
    "in_published_book",
    "open_answer_key",
    "true_pairs",
    "how_true_pairs_differ",
    "true_earnings_after_exit",
    "planted_sector_rates",
]

#: What a reveal cell prints in the published book instead of the answer.
BOOK_BUILD_MESSAGE = ("The published book does not show the answer key; run this notebook on an instructor's "
                      "server to see the reveal.")
#: What it prints where the dataset has no truth (a learner server).
NO_KEY_MESSAGE = ("This server's dataset was generated without its answer key; ask your instructor for the "
                  "reveal.")


def in_published_book() -> bool:
    """True while ``book/build.py`` executes the notebook for the published book."""
    return os.environ.get("STATELAB_BOOK_BUILD") == "1"


def open_answer_key(*, profile: str = "default", seed: int | None = None, data_root=None):
    """A connection to the dataset with its truth attached, or ``None`` (with a printed reason).

    Parameters
    ----------
    profile, seed, data_root : keyword-only
        The notebook's parameters, as given to :func:`synthetic_data.connect`.

    Returns
    -------
    duckdb.DuckDBPyConnection or None
        ``None`` in the published book build and where the dataset has no truth; the caller closes the
        connection when done.
    """
    if in_published_book():
        print(BOOK_BUILD_MESSAGE)
        return None
    import synthetic_data as sd

    kwargs = {} if seed is None else {"seed": seed}
    try:
        return sd.connect(profile=profile, data_root=data_root, truth=True, **kwargs)
    except sd.DatasetNotFoundError:
        print(NO_KEY_MESSAGE)
        return None


def _person_table(name: str) -> str:
    """A learner table's name, checked against the dataset's catalog (it is written into the SQL)."""
    import synthetic_data as sd

    if name not in sd.TABLES:
        raise ValueError(f"no learner table {name!r}; use one of {', '.join(sd.TABLES)}")
    return name


def true_pairs(key, left: str, right: str) -> pd.DataFrame:
    """Every pair of records, one from each table, that belong to the same true person.

    Returns
    -------
    pandas.DataFrame
        Columns ``<left>_id`` and ``<right>_id`` (record ids), one row per true pair.
    """
    left, right = _person_table(left), _person_table(right)
    return key.execute(f"""
        SELECT l.record_id AS {left}_id, r.record_id AS {right}_id
        FROM truth.crosswalk AS l
        JOIN truth.crosswalk AS r USING (person_id)
        WHERE l.source_table = ? AND r.source_table = ?
        ORDER BY 1, 2
    """, [left, right]).df()


def how_true_pairs_differ(key, left: str, right: str) -> pd.DataFrame:
    """How many true pairs disagree on each identifier, as written in the two tables (one row).

    Columns: ``true_pairs``; ``ssn_missing_on_a_side``; ``ssn_differs`` (both present, not equal);
    ``name_differs`` (first or last name, ignoring case and surrounding spaces); ``dob_differs`` (not
    equal or missing on a side). A pair may count in several columns.
    """
    left, right = _person_table(left), _person_table(right)
    return key.execute(f"""
        SELECT
            COUNT(*) AS true_pairs,
            COUNT(*) FILTER (WHERE a.ssn IS NULL OR b.ssn IS NULL) AS ssn_missing_on_a_side,
            COUNT(*) FILTER (WHERE a.ssn <> b.ssn) AS ssn_differs,
            COUNT(*) FILTER (
                WHERE upper(trim(a.first_name)) <> upper(trim(b.first_name))
                   OR upper(trim(a.last_name)) <> upper(trim(b.last_name))
            ) AS name_differs,
            COUNT(*) FILTER (WHERE a.dob <> b.dob OR a.dob IS NULL OR b.dob IS NULL) AS dob_differs
        FROM truth.crosswalk AS ta
        JOIN truth.crosswalk AS tb USING (person_id)
        JOIN {left} AS a ON a.record_id = ta.record_id
        JOIN {right} AS b ON b.record_id = tb.record_id
        WHERE ta.source_table = ? AND tb.source_table = ?
    """, [left, right]).df()


def true_earnings_after_exit(key, exits: pd.DataFrame, *, quarters_after: int = 2,
                             source_table: str = "wioa") -> pd.DataFrame:
    """The true person's earnings in the region's wage files in a quarter after each record's exit.

    Parameters
    ----------
    key : duckdb.DuckDBPyConnection
        From :func:`open_answer_key`.
    exits : pandas.DataFrame
        Columns ``record_id``, ``exit_year``, ``exit_quarter``.
    quarters_after : int, keyword-only
        Which quarter after exit (2 for the WIOA second-quarter indicator).
    source_table : str, keyword-only
        The table the record ids come from.

    Returns
    -------
    pandas.DataFrame
        ``record_id`` and ``true_earnings`` (0 where the person earned nothing in the region's states),
        one row per record of ``exits`` the crosswalk knows.
    """
    missing = {"record_id", "exit_year", "exit_quarter"} - set(exits.columns)
    if missing:
        raise KeyError(f"true_earnings_after_exit: exits has no column {', '.join(sorted(missing))}")
    key.register("_reveal_exits", exits[["record_id", "exit_year", "exit_quarter"]])
    try:
        return key.execute("""
            SELECT r.record_id, COALESCE(SUM(e.earnings - e.out_of_region_earnings), 0) AS true_earnings
            FROM _reveal_exits AS r
            JOIN truth.crosswalk AS x ON x.source_table = ? AND x.record_id = r.record_id
            LEFT JOIN truth.earnings AS e ON e.person_id = x.person_id
                 AND e.year * 4 + e.quarter = r.exit_year * 4 + r.exit_quarter + ?
            GROUP BY r.record_id
            ORDER BY r.record_id
        """, [_person_table(source_table), int(quarters_after)]).df()
    finally:
        key.unregister("_reveal_exits")


def planted_sector_rates() -> pd.DataFrame:
    """The rates the generator plants for each NAICS sector (its packaged ``reference/industry.toml``).

    Returns
    -------
    pandas.DataFrame
        ``naics_sector``, ``title``, ``planted_separation`` (quarterly separation rate) and
        ``planted_pay_premium`` (log pay relative to the average sector), one row per sector.
    """
    import tomllib
    from importlib import resources

    text = resources.files("synthetic_data").joinpath("reference", "industry.toml").read_text(encoding="utf-8")
    sectors = pd.DataFrame(tomllib.loads(text)["sectors"])
    return sectors.rename(columns={"code": "naics_sector", "separation": "planted_separation",
                                   "wage": "planted_pay_premium"})[
        ["naics_sector", "title", "planted_separation", "planted_pay_premium"]]
