"""Reference implementations of the course's labor-demand measures, and the exit outcomes by their old name.

* **Employer (labor-demand) measures** in the style of the Quarterly Workforce Indicators: headcounts at
  the beginning and end of a quarter, hires, new hires, separations, full-quarter employment, earnings
  percentiles and the employer growth rate, by employer or aggregated by sector or county, and the
  worker flows between sectors or counties (:func:`employer_quarters`, :func:`labor_demand`,
  :func:`earnings_percentiles`, :func:`worker_flows`, :func:`growth_rate`), written as SQL and run on the
  caller's DuckDB connection.
* **Exit-based outcomes** (:func:`exit_outcomes`, :func:`exit_outcome_rates`, :data:`MIN_WAGE_QUARTERLY`)
  live in :mod:`statelab.outcomes`; they are re-exported here because module 13 and its assignment call
  them as ``measures.*``.

Conventions shared by every function:

* Quarters are counted on an index ``year * 4 + quarter - 1`` so that "two quarters after" crosses year
  boundaries. Options ``start``/``end`` take ``"2020Q2"`` or ``(2020, 2)``.
* A worker is an SSN as reported in the wage records. Records whose SSN is not valid under
  :mod:`statelab.identifiers` (missing, malformed or one of :data:`PLACEHOLDER_SSNS`) cannot be followed
  over time, so they are left out (and counted where it matters). Mistyped SSNs that still look valid
  cannot be detected here: they split one person into two.
* "The data's first/last quarter" is the first/last quarter present in the wage table. Measures that need
  a quarter outside that range are ``NULL`` (undefined), never 0.
* The SQL is portable (standard window functions, ``CASE``, ``percentile_cont ... WITHIN GROUP``); no
  DuckDB-only syntax, so the same text runs on PostgreSQL. Results come back as pandas DataFrames.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .identifiers import PLACEHOLDER_SSNS, ssn_status_sql  # PLACEHOLDER_SSNS re-exported: notebooks use it
from .outcomes import MIN_WAGE_QUARTERLY, exit_outcome_rates, exit_outcomes  # re-exported: module 13 uses them
from .outcomes import _columns, _table  # the package's one set of name checks

__all__ = [
    "MIN_WAGE_QUARTERLY",
    "PLACEHOLDER_SSNS",
    "earnings_percentiles",
    "employer_quarters",
    "exit_outcome_rates",
    "exit_outcomes",
    "growth_rate",
    "labor_demand",
    "worker_flows",
]


_QUARTER = re.compile(r"^\s*([0-9]{4})\s*-?\s*[Qq]\s*([1-4])\s*$")


# ------------------------------------------------------------------------------------------ helpers
def _qindex(value, what):
    """Quarter index ``year * 4 + quarter - 1`` of ``"2020Q2"`` or ``(2020, 2)``; None passes through."""
    if value is None:
        return None
    if isinstance(value, str):
        m = _QUARTER.match(value)
        if not m:
            raise ValueError(f"{what} must look like '2020Q2', got {value!r}")
        year, quarter = int(m.group(1)), int(m.group(2))
    elif isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        year, quarter = int(value[0]), int(value[1])
        if not 1 <= quarter <= 4:
            raise ValueError(f"{what} quarter must be 1-4, got {value!r}")
    else:
        raise TypeError(f"{what} must be a string like '2020Q2' or a (year, quarter) tuple, got {value!r}")
    return year * 4 + quarter - 1


def _window(start, end):
    lo, hi = _qindex(start, "start"), _qindex(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"start {start!r} is after end {end!r}")
    return lo, hi


def _window_sql(column, lo, hi):
    parts = []
    if lo is not None:
        parts.append(f"{column} >= {lo}")
    if hi is not None:
        parts.append(f"{column} <= {hi}")
    return " AND ".join(parts) if parts else "1 = 1"


def _usable_ssn_sql(column):
    """SQL condition: the SSN can identify a worker (valid under :mod:`statelab.identifiers`)."""
    return f"{ssn_status_sql(column)} = 'valid'"


def _run(con, sql, *, counts=()):
    """Run ``sql``; count columns come back as nullable integers (NULL where a measure is undefined)."""
    df = con.sql(sql).df()
    for c in counts:
        if c in df.columns:
            df[c] = df[c].round().astype("Int64")
    return df


def _quarter_cols(q):
    """SQL for (year, quarter) from a quarter-index expression (portable integer arithmetic)."""
    return f"CAST(({q} - MOD({q}, 4)) / 4 AS INTEGER)", f"CAST(MOD({q}, 4) + 1 AS INTEGER)"


def growth_rate(current, previous):
    """The employer growth rate ``2 (x_t - x_{t-1}) / (x_t + x_{t-1})``.

    Symmetric and bounded in [-2, 2]: +2 for a unit that is new (0 before), -2 for one that closed,
    NaN when both are 0. Works on scalars, numpy arrays or pandas Series.

    Parameters
    ----------
    current, previous : number or array-like
        ``x_t`` and ``x_{t-1}`` (for example beginning-of-quarter employment).

    Returns
    -------
    float or numpy.ndarray
    """
    x1 = np.asarray(current, dtype=float)
    x0 = np.asarray(previous, dtype=float)
    if np.any(x1 < 0) or np.any(x0 < 0):
        raise ValueError(f"growth_rate needs non-negative levels, got current={current!r}, previous={previous!r}")
    total = x1 + x0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 2 * (x1 - x0) / np.where(total > 0, total, 1), np.nan)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- employer (demand) side
_COUNTS = ("workers", "emp_begin", "emp_end", "full_quarter", "hires", "new_hires", "separations", "total_wages")


def _job_flags_sql(wage_table):
    """CTEs ``bounds``, ``jq`` (worker x employer x quarter) and ``flags`` (continuity at that employer)."""
    wage_table = _table(wage_table, "wage_table")
    usable = _usable_ssn_sql("ssn")
    return f"""
bounds AS (
    SELECT MIN(year * 4 + quarter - 1) AS first_q, MAX(year * 4 + quarter - 1) AS last_q
    FROM {wage_table}
),
jq AS (
    SELECT ui_account, ssn, year * 4 + quarter - 1 AS q, SUM(wages) AS wages
    FROM {wage_table}
    WHERE {usable}
    GROUP BY ui_account, ssn, year * 4 + quarter - 1
),
seq AS (
    SELECT ui_account, ssn, q, wages,
           LAG(q) OVER (PARTITION BY ui_account, ssn ORDER BY q) AS prev_q,
           LEAD(q) OVER (PARTITION BY ui_account, ssn ORDER BY q) AS next_q
    FROM jq
),
flags AS (
    SELECT ui_account, ssn, q, wages,
           CASE WHEN prev_q = q - 1 THEN 1 ELSE 0 END AS was_there,
           CASE WHEN next_q = q + 1 THEN 1 ELSE 0 END AS stays,
           CASE WHEN prev_q >= q - 4 THEN 1 ELSE 0 END AS recent
    FROM seq
)"""


def _employer_quarters_sql(wage_table, employer_table):
    employer_table = _table(employer_table, "employer_table")
    year, quarter = _quarter_cols("f.q")
    usable = _usable_ssn_sql("ssn")
    return f"""
WITH {_job_flags_sql(wage_table)},
unlinked AS (
    SELECT ui_account, year * 4 + quarter - 1 AS q, COUNT(*) AS unlinked_records
    FROM {wage_table}
    WHERE NOT ({usable})
    GROUP BY ui_account, year * 4 + quarter - 1
),
eq AS (
    SELECT f.ui_account, f.q, {year} AS year, {quarter} AS quarter,
           COUNT(*) AS workers,
           CASE WHEN f.q > b.first_q THEN SUM(f.was_there) END AS emp_begin,
           CASE WHEN f.q < b.last_q THEN SUM(f.stays) END AS emp_end,
           CASE WHEN f.q > b.first_q AND f.q < b.last_q THEN SUM(f.was_there * f.stays) END AS full_quarter,
           CASE WHEN f.q > b.first_q THEN SUM(1 - f.was_there) END AS hires,
           CASE WHEN f.q >= b.first_q + 4 THEN SUM(1 - f.recent) END AS new_hires,
           CASE WHEN f.q < b.last_q THEN SUM(1 - f.stays) END AS separations,
           SUM(f.wages) AS total_wages
    FROM flags AS f
    CROSS JOIN bounds AS b
    GROUP BY f.ui_account, f.q, b.first_q, b.last_q
)
SELECT eq.ui_account, e.state_fips, e.county_fips, e.naics_sector, eq.q, eq.year, eq.quarter,
       eq.workers, eq.emp_begin, eq.emp_end, eq.full_quarter, eq.hires, eq.new_hires, eq.separations,
       eq.total_wages, COALESCE(u.unlinked_records, 0) AS unlinked_records
FROM eq
LEFT JOIN {employer_table} AS e ON e.ui_account = eq.ui_account
LEFT JOIN unlinked AS u ON u.ui_account = eq.ui_account AND u.q = eq.q"""


def employer_quarters(con, *, start=None, end=None, wage_table="ui_wage", employer_table="employer"):
    """Job flows at each employer (UI account) and quarter, from the wage records (QWI-style definitions).

    A worker is *at* an employer in quarter t when the employer reported wages for them in t. For
    employer j and quarter t:

    * **workers** -- workers paid in t (everyone on the payroll at any time in the quarter).
    * **emp_begin** -- beginning-of-quarter employment: paid in t-1 and t.
    * **emp_end** -- end-of-quarter employment: paid in t and t+1.
    * **full_quarter** -- full-quarter employment: paid in t-1, t and t+1.
    * **hires** -- paid in t but not t-1. **new_hires** -- paid in t and in none of t-4 ... t-1.
    * **separations** -- paid in t but not t+1.
    * **total_wages** -- wages paid in t to the workers counted.
    * **unlinked_records** -- records in t whose SSN is missing or a placeholder; they are in none of the
      counts above, because such a worker cannot be followed from quarter to quarter.

    Identities that follow: ``workers = emp_begin + hires = emp_end + separations``, so
    ``emp_end - emp_begin = hires - separations``, and ``emp_begin`` in t+1 equals ``emp_end`` in t.
    Measures needing a quarter outside the wage data are NULL (e.g. hires in the first quarter,
    new hires in the first four, separations in the last).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    start, end : str or (int, int), optional, keyword-only
        First and last quarter to return (``"2019Q1"``); flows still look at neighboring quarters.
    wage_table, employer_table : str, keyword-only
        UI wage records; employer file (one row per ``ui_account``, with state_fips, county_fips,
        naics_sector).

    Returns
    -------
    pandas.DataFrame
        One row per employer and quarter with at least one linked worker paid: ui_account, state_fips,
        county_fips, naics_sector, q (quarter index), year, quarter, the counts above.
    """
    lo, hi = _window(start, end)
    sql = _employer_quarters_sql(wage_table, employer_table)
    return _run(con, f"SELECT * FROM ({sql}) AS t WHERE {_window_sql('q', lo, hi)} ORDER BY ui_account, q",
                counts=_COUNTS + ("unlinked_records",))


def _group_by(by, con, employer_table):
    groups = _columns(by, "by")
    if groups:
        available = set(con.sql(f"SELECT * FROM {_table(employer_table, 'employer_table')} LIMIT 0").columns)
        missing = [g for g in groups if g not in available]
        if missing:
            raise ValueError(f"by must name columns of {employer_table!r} (e.g. 'naics_sector', 'county_fips'), "
                             f"got {missing!r}")
    return groups


def labor_demand(con, *, by="naics_sector", growth_of="emp_begin", start=None, end=None, wage_table="ui_wage",
                  employer_table="employer"):
    """Employer measures summed by group (sector, county, state...) and quarter, with growth rates.

    The counts are those of :func:`employer_quarters` added up over the employers of each group, so the
    same definitions and identities hold. Adds:

    * **employers** -- employers with at least one linked worker paid in the quarter.
    * **largest_employer_share** -- the biggest employer's share of the group's ``workers`` (disclosure
      review: a cell dominated by one employer, e.g. above 0.8, reveals that employer).
    * **growth_rate** -- ``2 (x_t - x_{t-1}) / (x_t + x_{t-1})`` for ``x = growth_of`` in the same group,
      NULL when ``x_{t-1}`` is undefined (before the data) or both are 0; a group absent in t-1 has
      ``x_{t-1} = 0``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    by : str, sequence of str or None, keyword-only
        Employer-file columns to group by, e.g. ``"naics_sector"``, ``"county_fips"``,
        ``["state_fips", "naics_sector"]``; ``"ui_account"`` gives each employer's own growth rate;
        None for the whole region.
    growth_of : str, keyword-only
        The count whose growth is reported (default beginning-of-quarter employment).
    start, end, wage_table, employer_table
        As in :func:`employer_quarters`.

    Returns
    -------
    pandas.DataFrame
        Group columns, q, year, quarter, employers, the counts, largest_employer_share, growth_rate.
    """
    groups = _group_by(by, con, employer_table)
    if growth_of not in _COUNTS:
        raise ValueError(f"growth_of must be one of {_COUNTS}, got {growth_of!r}")
    lo, hi = _window(start, end)
    sql = _employer_quarters_sql(wage_table, employer_table)
    g_sel = "".join(f"{g}, " for g in groups)
    g_by = "".join(f", {g}" for g in groups)
    g_join = "".join(f" AND p.{g} = a.{g}" for g in groups)
    g_a = "".join(f"a.{g}, " for g in groups)
    sums = ", ".join(f"SUM({c}) AS {c}" for c in _COUNTS)
    cols = ", ".join(f"a.{c}" for c in _COUNTS)
    x = growth_of
    df = _run(con, f"""
WITH eq AS ({sql}),
bounds AS (SELECT MIN(year * 4 + quarter - 1) AS first_q FROM {_table(wage_table, 'wage_table')}),
agg AS (
    SELECT {g_sel} q, year, quarter, COUNT(*) AS employers, {sums},
           CAST(MAX(workers) AS DOUBLE PRECISION) / SUM(workers) AS largest_employer_share
    FROM eq
    GROUP BY q, year, quarter{g_by}
)
SELECT {g_a} a.q, a.year, a.quarter, a.employers, {cols}, a.largest_employer_share,
       CASE WHEN a.{x} IS NULL OR a.q - 1 < b.first_q OR (p.q IS NOT NULL AND p.{x} IS NULL) THEN NULL
            WHEN a.{x} + COALESCE(p.{x}, 0) = 0 THEN NULL
            ELSE 2.0 * (a.{x} - COALESCE(p.{x}, 0)) / (a.{x} + COALESCE(p.{x}, 0)) END AS growth_rate
FROM agg AS a
CROSS JOIN bounds AS b
LEFT JOIN agg AS p ON p.q = a.q - 1{g_join}
WHERE {_window_sql('a.q', lo, hi)}
ORDER BY {g_a} a.q
""", counts=("employers",) + _COUNTS)
    return df


def earnings_percentiles(con, *, by="naics_sector", percentiles=(0.25, 0.5, 0.75), full_quarter=True, start=None,
                         end=None, wage_table="ui_wage", employer_table="employer"):
    """Percentiles of workers' quarterly earnings at their employer, by group and quarter.

    The unit is a job-quarter: one worker's wages from one employer in one quarter. With
    ``full_quarter=True`` (the QWI convention) only full-quarter jobs count -- paid by the same employer
    in t-1, t and t+1 -- so the earnings are not cut short by a hire or separation during the quarter;
    such jobs are undefined in the data's first and last quarter. Percentiles are ``percentile_cont``
    (linear interpolation). Medians and percentiles are exact values: apply the disclosure rules (e.g. a
    fuzzy median) before anything leaves the enclave.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    by : str, sequence of str or None, keyword-only
        Employer-file columns to group by; None for the whole region.
    percentiles : sequence of float, keyword-only
        Values strictly between 0 and 1; column ``p25`` holds the 0.25 percentile, and so on.
    full_quarter : bool, keyword-only
        Only full-quarter jobs (default) or every job paid in the quarter.
    start, end, wage_table, employer_table
        As in :func:`employer_quarters`.

    Returns
    -------
    pandas.DataFrame
        Group columns, q, year, quarter, jobs (job-quarters counted), one column per percentile.
    """
    groups = _group_by(by, con, employer_table)
    employer_table = _table(employer_table, "employer_table")
    if isinstance(percentiles, (str, bytes)) or not isinstance(percentiles, Sequence) or not percentiles:
        raise TypeError(f"percentiles must be a non-empty list of numbers, got {percentiles!r}")
    names = []
    for p in percentiles:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 1:
            raise ValueError(f"percentiles must lie strictly between 0 and 1, got {p!r}")
        name = f"p{round(p * 100, 4):g}".replace(".", "_")
        if name in names:
            raise ValueError(f"percentiles repeats a value: {percentiles!r}")
        names.append(name)
    if not isinstance(full_quarter, bool):
        raise TypeError(f"full_quarter must be True or False, got {full_quarter!r}")
    lo, hi = _window(start, end)
    year, quarter = _quarter_cols("f.q")
    g_sel = "".join(f"e.{g}, " for g in groups)
    g_by = "".join(f", e.{g}" for g in groups)
    keep = ("f.was_there = 1 AND f.stays = 1 AND f.q > b.first_q AND f.q < b.last_q" if full_quarter else "1 = 1")
    pcts = ", ".join(f"percentile_cont({float(p)!r}) WITHIN GROUP (ORDER BY f.wages) AS {n}"
                     for p, n in zip(percentiles, names))
    return _run(con, f"""
WITH {_job_flags_sql(wage_table)}
SELECT {g_sel} f.q, {year} AS year, {quarter} AS quarter, COUNT(*) AS jobs, {pcts}
FROM flags AS f
CROSS JOIN bounds AS b
JOIN {employer_table} AS e ON e.ui_account = f.ui_account
WHERE {keep} AND {_window_sql('f.q', lo, hi)}
GROUP BY f.q{g_by}
ORDER BY {g_sel} f.q
""", counts=("jobs",))


def worker_flows(con, *, by="naics_sector", start=None, end=None, by_quarter=False, wage_table="ui_wage",
                 employer_table="employer"):
    """Job changers between groups of employers (sectors, counties...): an edge table for a flow network.

    A worker's **main employer** in a quarter is the one that paid them the most (ties: the lower UI
    account number). A **job changer** in quarter t had a main employer A in t-1, is no longer paid by A in
    t, and has a main employer B in t (so B differs from A). Each job change is one flow from A's group
    (**origin**, quarter t-1) to B's group (**destination**, quarter t). Moves within a group (origin equals
    destination) are kept; drop them to study movement between groups. People who leave A and are not paid
    by anyone in t are separations, not job changes, and are not in the table.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    by : str, keyword-only
        Employer-file column defining the groups, e.g. ``"naics_sector"`` or ``"county_fips"``.
    start, end : str or (int, int), optional, keyword-only
        Window for the destination quarter t.
    by_quarter : bool, keyword-only
        One row per (origin, destination, quarter) instead of totals over the window.
    wage_table, employer_table
        As in :func:`employer_quarters`.

    Returns
    -------
    pandas.DataFrame
        Columns origin, destination, [year, quarter,] job_changers; ordered by job_changers, largest first.
    """
    groups = _group_by(by, con, employer_table)
    if len(groups) != 1:
        raise ValueError(f"by must name one employer-file column, got {by!r}")
    if not isinstance(by_quarter, bool):
        raise TypeError(f"by_quarter must be True or False, got {by_quarter!r}")
    g = groups[0]
    employer_table = _table(employer_table, "employer_table")
    wage_table = _table(wage_table, "wage_table")
    lo, hi = _window(start, end)
    usable = _usable_ssn_sql("ssn")
    year, quarter = _quarter_cols("c.q")
    q_sel = f"{year} AS year, {quarter} AS quarter, " if by_quarter else ""
    q_by = ", c.q" if by_quarter else ""
    q_order = "c.q, " if by_quarter else ""
    return _run(con, f"""
WITH jq AS (
    SELECT ui_account, ssn, year * 4 + quarter - 1 AS q, SUM(wages) AS wages
    FROM {wage_table}
    WHERE {usable}
    GROUP BY ui_account, ssn, year * 4 + quarter - 1
),
ranked AS (
    SELECT ssn, q, ui_account,
           ROW_NUMBER() OVER (PARTITION BY ssn, q ORDER BY wages DESC, ui_account) AS rn
    FROM jq
),
main AS (SELECT ssn, q, ui_account FROM ranked WHERE rn = 1),
changes AS (
    SELECT d.ssn, d.q, o.ui_account AS origin_account, d.ui_account AS destination_account
    FROM main AS o
    JOIN main AS d ON d.ssn = o.ssn AND d.q = o.q + 1
    LEFT JOIN jq AS still ON still.ssn = o.ssn AND still.ui_account = o.ui_account AND still.q = d.q
    WHERE still.ssn IS NULL
)
SELECT eo.{g} AS origin, ed.{g} AS destination, {q_sel}COUNT(*) AS job_changers
FROM changes AS c
JOIN {employer_table} AS eo ON eo.ui_account = c.origin_account
JOIN {employer_table} AS ed ON ed.ui_account = c.destination_account
WHERE {_window_sql('c.q', lo, hi)}
GROUP BY eo.{g}, ed.{g}{q_by}
ORDER BY {q_order}job_changers DESC, origin, destination
""", counts=("job_changers",))
