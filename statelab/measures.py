"""Reference implementations of the course's employment-outcome and labor-demand measures.

Two families of measures, each written as SQL and run on the caller's DuckDB connection:

* **Exit-based outcomes** for a cohort (WIOA exiters, TANF leavers, UI claimants): employment in the 2nd
  and 4th quarters after the exit quarter, median earnings in the 2nd quarter among the employed,
  retention with the same employer, stable and full-quarter employment
  (:func:`exit_outcomes`, :func:`exit_outcome_rates`).
* **Employer (labor-demand) measures** in the style of the Quarterly Workforce Indicators: headcounts at
  the beginning and end of a quarter, hires, new hires, separations, full-quarter employment, earnings
  percentiles and the employer growth rate, by employer or aggregated by sector or county, and the
  worker flows between sectors or counties (:func:`employer_quarters`, :func:`labor_demand`,
  :func:`earnings_percentiles`, :func:`worker_flows`, :func:`growth_rate`).

Conventions shared by every function:

* Quarters are counted on an index ``year * 4 + quarter - 1`` so that "two quarters after" crosses year
  boundaries. Options ``start``/``end`` take ``"2020Q2"`` or ``(2020, 2)``.
* A worker is an SSN as reported in the wage records. Records whose SSN is missing or one of
  :data:`PLACEHOLDER_SSNS` cannot be followed over time, so they are left out (and counted where it
  matters). Mistyped SSNs cannot be detected here: they split one person into two.
* "The data's first/last quarter" is the first/last quarter present in the wage table. Measures that need
  a quarter outside that range are ``NULL`` (undefined), never 0.
* The SQL is portable (standard window functions, ``CASE``, ``percentile_cont ... WITHIN GROUP``); no
  DuckDB-only syntax, so the same text runs on PostgreSQL. Results come back as pandas DataFrames.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from .linkage import PLACEHOLDER_SSNS  # the course's one placeholder list, re-exported

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

#: Quarterly earnings of a full-time, federal-minimum-wage job: $7.25 x 35 hours x 13 weeks = 3,298.75.
#: One training class counted a person as employed only at or above this amount.
MIN_WAGE_QUARTERLY: float = 7.25 * 35 * 13


_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATE = re.compile(r"^[0-9]{2}$")
_QUARTER = re.compile(r"^\s*([0-9]{4})\s*-?\s*[Qq]\s*([1-4])\s*$")
_SSN = re.compile(r"^[0-9]{9}$")


# ------------------------------------------------------------------------------------------ helpers
def _table(name, what="table"):
    if not isinstance(name, str) or not _TABLE.match(name):
        raise ValueError(f"{what} must be a table name such as 'ui_wage' or 'statelab.ui_wage', got {name!r}")
    return name


def _column(name, what="column"):
    if not isinstance(name, str) or not _COLUMN.match(name):
        raise ValueError(f"{what} must be a plain column name (letters, digits, _), got {name!r}")
    return name


def _columns(names, what):
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, Sequence):
        raise TypeError(f"{what} must be a column name or a list of column names, got {names!r}")
    out = [_column(n, what) for n in names]
    if len(set(out)) != len(out):
        raise ValueError(f"{what} repeats a column: {names!r}")
    return out


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


def _ssn_list(exclude_ssns):
    if exclude_ssns is None:
        return []
    if isinstance(exclude_ssns, str) or not isinstance(exclude_ssns, Sequence):
        raise TypeError(f"exclude_ssns must be a list of SSN strings, got {exclude_ssns!r}")
    for s in exclude_ssns:
        if not isinstance(s, str) or not _SSN.match(s):
            raise ValueError(f"exclude_ssns must hold 9-digit strings, got {s!r}")
    return list(exclude_ssns)


def _usable_ssn_sql(column, exclude):
    """SQL condition: the SSN can identify a worker (not missing, not a placeholder)."""
    cond = f"{column} IS NOT NULL"
    if exclude:
        cond += f" AND {column} NOT IN ({', '.join(repr(s) for s in exclude)})"
    return cond


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


# ------------------------------------------------------------------------------- exit-based outcomes
def _exit_outcomes_sql(cohort, *, ssn, exit_year, exit_quarter, states, home_state, min_earnings, wage_table,
                       exclude_ssns, keep):
    cohort = _table(cohort, "cohort")
    wage_table = _table(wage_table, "wage_table")
    ssn, exit_year, exit_quarter = (_column(c, n) for c, n in ((ssn, "ssn"), (exit_year, "exit_year"),
                                                                (exit_quarter, "exit_quarter")))
    keep = _columns(keep, "keep")
    exclude = _ssn_list(exclude_ssns)
    if home_state is not None:
        home_state = _column(home_state, "home_state")
    if isinstance(states, str):
        if states == "all":
            state_filter = ""
        elif states == "home":
            if home_state is None:
                raise ValueError("states='home' needs home_state=<the cohort column holding each person's state FIPS>")
            state_filter = "AND w.state_fips = c.home_state"
        else:
            raise ValueError(f"states must be 'all', 'home' or a list of state FIPS codes, got {states!r}")
    elif isinstance(states, Sequence) and states and all(isinstance(s, str) and _STATE.match(s) for s in states):
        state_filter = f"AND w.state_fips IN ({', '.join(repr(s) for s in states)})"
    else:
        raise ValueError(f"states must be 'all', 'home' or a non-empty list of 2-digit FIPS strings, got {states!r}")
    if min_earnings is None:
        employed = "> 0"
    elif isinstance(min_earnings, (int, float, np.integer, np.floating)) and not isinstance(min_earnings, bool) \
            and min_earnings > 0:
        employed = f">= {float(min_earnings)!r}"
    else:
        raise ValueError(f"min_earnings must be a positive number of dollars or None, got {min_earnings!r}")
    reserved = {"ssn", "exit_year", "exit_quarter", "home_state", "exit_q", "linked"}
    clash = [k for k in keep if k in reserved]
    if clash:
        raise ValueError(f"keep names columns the result already has: {clash!r}")

    home_col = f"c.{home_state} AS home_state," if home_state else ""
    keep_cols = "".join(f"c.{k} AS {k}, " for k in keep)
    usable = _usable_ssn_sql(f"c.{ssn}", exclude)
    defined = "c.linked = 1 AND c.exit_q + {k} BETWEEN b.first_q AND b.last_q"
    earnings = ",\n        ".join(
        f"CASE WHEN {defined.format(k=k)} THEN COALESCE(p.earnings_q{k}, 0) END AS earnings_q{k}" for k in range(1, 5))
    employed_cols = ",\n        ".join(
        f"CASE WHEN {defined.format(k=k)} THEN COALESCE(p.earnings_q{k}, 0) {employed} END AS employed_q{k}"
        for k in range(1, 5))
    sums = ",\n            ".join(f"SUM(CASE WHEN k = {k} THEN wages ELSE 0 END) AS earnings_q{k}" for k in range(1, 5))
    has = ",\n                   ".join(f"MAX(CASE WHEN k = {k} AND wages > 0 THEN 1 ELSE 0 END) AS h{k}"
                                       for k in range(1, 5))
    out_keep = "".join(f"c.{k}, " for k in keep)
    out_home = "c.home_state, " if home_state else ""
    return f"""
WITH cohort AS (
    SELECT c.{ssn} AS ssn, c.{exit_year} AS exit_year, c.{exit_quarter} AS exit_quarter, {home_col} {keep_cols}
           c.{exit_year} * 4 + c.{exit_quarter} - 1 AS exit_q,
           CASE WHEN {usable} THEN 1 ELSE 0 END AS linked
    FROM {cohort} AS c
),
bounds AS (
    SELECT MIN(year * 4 + quarter - 1) AS first_q, MAX(year * 4 + quarter - 1) AS last_q
    FROM {wage_table}
),
jobs AS (
    SELECT c.ssn, c.exit_q, w.ui_account, w.year * 4 + w.quarter - 1 - c.exit_q AS k, SUM(w.wages) AS wages
    FROM cohort AS c
    JOIN {wage_table} AS w ON w.ssn = c.ssn
    WHERE c.linked = 1
      AND w.year * 4 + w.quarter - 1 BETWEEN c.exit_q + 1 AND c.exit_q + 4
      {state_filter}
    GROUP BY c.ssn, c.exit_q, w.ui_account, w.year * 4 + w.quarter - 1 - c.exit_q
),
person AS (
    SELECT ssn, exit_q,
            {sums}
    FROM jobs
    GROUP BY ssn, exit_q
),
same_employer AS (
    SELECT ssn, exit_q,
           MAX(CASE WHEN h2 = 1 AND h4 = 1 THEN 1 ELSE 0 END) AS same_q2_q4,
           MAX(CASE WHEN h1 + h2 + h3 + h4 = 4 THEN 1 ELSE 0 END) AS same_q1_q4,
           MAX(CASE WHEN h1 + h2 + h3 = 3 THEN 1 ELSE 0 END) AS same_q1_q3
    FROM (
        SELECT ssn, exit_q, ui_account,
                   {has}
        FROM jobs
        GROUP BY ssn, exit_q, ui_account
    ) AS j
    GROUP BY ssn, exit_q
)
SELECT c.ssn, c.exit_year, c.exit_quarter, {out_home}{out_keep}
        c.linked = 1 AS linked,
        {earnings},
        {employed_cols},
        CASE WHEN {defined.format(k=2)} AND c.exit_q + 4 <= b.last_q
             THEN COALESCE(e.same_q2_q4, 0) = 1 END AS same_employer_q2_q4,
        CASE WHEN {defined.format(k=1)} AND c.exit_q + 4 <= b.last_q
             THEN COALESCE(e.same_q1_q4, 0) = 1 END AS stable_q1_q4,
        CASE WHEN c.linked = 1 AND c.exit_q + 2 > b.first_q AND c.exit_q + 2 < b.last_q
             THEN COALESCE(e.same_q1_q3, 0) = 1 END AS full_quarter_q2
FROM cohort AS c
CROSS JOIN bounds AS b
LEFT JOIN person AS p ON c.linked = 1 AND p.ssn = c.ssn AND p.exit_q = c.exit_q
LEFT JOIN same_employer AS e ON c.linked = 1 AND e.ssn = c.ssn AND e.exit_q = c.exit_q
"""


def _check_cohort_unique(con, cohort, ssn, exit_year, exit_quarter, exclude):
    usable = _usable_ssn_sql(ssn, exclude)
    dup = con.sql(f"""
        SELECT {ssn} AS ssn, {exit_year} AS exit_year, {exit_quarter} AS exit_quarter, COUNT(*) AS n
        FROM {cohort}
        WHERE {usable}
        GROUP BY {ssn}, {exit_year}, {exit_quarter}
        HAVING COUNT(*) > 1
    """).df()
    if len(dup):
        first = dup.iloc[0]
        raise ValueError(
            f"cohort {cohort!r} has {len(dup)} (ssn, exit quarter) combinations on more than one row, e.g. "
            f"ssn {first['ssn']!r} exiting {first['exit_year']}Q{first['exit_quarter']} on {first['n']} rows: "
            "de-duplicate the cohort first (one row per person and exit)"
        )


def exit_outcomes(con, cohort, *, ssn="ssn", exit_year="exit_year", exit_quarter="exit_quarter", states="all",
                  home_state=None, min_earnings=None, wage_table="ui_wage", exclude_ssns=PLACEHOLDER_SSNS, keep=()):
    """Employment outcomes after exit, one row per cohort member (WIOA primary-indicator definitions).

    Definitions (quarter k after exit = the k-th quarter after the calendar quarter of exit):

    * **earnings_qk** -- total UI wages in quarter k from every employer in the wage files that count
      (see ``states``), 0 if none.
    * **employed_qk** -- any UI wages in quarter k (``earnings_qk > 0``), or, with ``min_earnings``, wages
      at or above that amount (e.g. :data:`MIN_WAGE_QUARTERLY`). The WIOA *employment rate in the 2nd / 4th
      quarter after exit* is the mean of ``employed_q2`` / ``employed_q4``.
    * **same_employer_q2_q4** -- wages from the same employer (UI account) in both quarter 2 and quarter 4
      (WIOA *retention with the same employer*; its rate is taken among those employed in quarter 2).
    * **stable_q1_q4** -- wages from the same employer in every one of quarters 1-4 after exit.
    * **full_quarter_q2** -- full-quarter employment in quarter 2 (LEHD/QWI): wages from the same employer
      in quarters 1, 2 and 3 after exit (t-1, t, t+1). Undefined when quarter 2 is the data's first or
      last quarter, or outside it.

    A quarter outside the wage data gives NULL, as does every outcome of a member whose SSN is missing or
    a placeholder (``linked`` is False): such people are unknown, not unemployed.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection on which ``cohort`` and ``wage_table`` can be queried.
    cohort : str
        Table (or view) with one row per person and exit: an SSN column and the exit year and quarter.
    ssn, exit_year, exit_quarter : str, keyword-only
        Column names in ``cohort``.
    states : {"all", "home"} or list of str, keyword-only
        Which states' wage files count: every state's (``"all"``), only the file of the person's own
        state (``"home"``, needs ``home_state``), or the listed state FIPS codes.
    home_state : str, optional, keyword-only
        Column of ``cohort`` with each person's state FIPS code (e.g. the state that served them).
    min_earnings : float, optional, keyword-only
        Quarterly wages needed to count as employed; default any wages (> 0).
    wage_table : str, keyword-only
        The UI wage records (columns ssn, state_fips, ui_account, year, quarter, wages).
    exclude_ssns : sequence of str, keyword-only
        SSN values that cannot identify a person (default :data:`PLACEHOLDER_SSNS`).
    keep : sequence of str, keyword-only
        Other cohort columns to carry into the result (e.g. ``["program"]``).

    Returns
    -------
    pandas.DataFrame
        Columns ssn, exit_year, exit_quarter, [home_state], [keep...], linked, earnings_q1..q4,
        employed_q1..q4, same_employer_q2_q4, stable_q1_q4, full_quarter_q2; one row per cohort row.

    Raises
    ------
    ValueError
        For a bad option, or a cohort with the same (usable SSN, exit quarter) on several rows.
    """
    sql = _exit_outcomes_sql(cohort, ssn=ssn, exit_year=exit_year, exit_quarter=exit_quarter, states=states,
                             home_state=home_state, min_earnings=min_earnings, wage_table=wage_table,
                             exclude_ssns=exclude_ssns, keep=keep)
    _check_cohort_unique(con, cohort, ssn, exit_year, exit_quarter, _ssn_list(exclude_ssns))
    counts = [f"earnings_q{k}" for k in range(1, 5)]
    return _run(con, f"SELECT * FROM ({sql}) AS o ORDER BY exit_year, exit_quarter, ssn", counts=counts)


def exit_outcome_rates(con, cohort, *, by=(), ssn="ssn", exit_year="exit_year", exit_quarter="exit_quarter",
                       states="all", home_state=None, min_earnings=None, wage_table="ui_wage",
                       exclude_ssns=PLACEHOLDER_SSNS):
    """Cohort-level outcome rates after exit (the WIOA primary indicators and two stability measures).

    Built on :func:`exit_outcomes` (same definitions and options). Per group of ``by``:

    * **exiters** -- cohort rows; **linked** -- rows with a usable SSN (the denominator of every rate).
    * **employment_rate_q2**, **employment_rate_q4** -- share of linked exiters employed in the 2nd / 4th
      quarter after exit (quarters outside the data are left out); **n_employed_q2**, **n_employed_q4**
      are the counts.
    * **median_earnings_q2** -- median of quarter-2 earnings among those employed in quarter 2.
    * **retention_rate** -- among those employed in quarter 2, the share with the same employer in
      quarters 2 and 4.
    * **stable_rate** -- share with the same employer in all of quarters 1-4.
    * **full_quarter_rate_q2** -- share full-quarter employed in quarter 2 (same employer in Q1-Q3).

    Parameters
    ----------
    con, cohort, ssn, exit_year, exit_quarter, states, home_state, min_earnings, wage_table, exclude_ssns
        As in :func:`exit_outcomes`.
    by : str or sequence of str, keyword-only
        Cohort columns to group by (e.g. ``"program"``); ``"home_state"`` groups by the ``home_state``
        column. Default: one row for the whole cohort.

    Returns
    -------
    pandas.DataFrame
        One row per group, ordered by the group columns.
    """
    by = _columns(by, "by")
    keep = [b for b in by if b != "home_state"]
    if "home_state" in by and home_state is None:
        raise ValueError("by='home_state' needs home_state=<cohort column>")
    sql = _exit_outcomes_sql(cohort, ssn=ssn, exit_year=exit_year, exit_quarter=exit_quarter, states=states,
                             home_state=home_state, min_earnings=min_earnings, wage_table=wage_table,
                             exclude_ssns=exclude_ssns, keep=keep)
    _check_cohort_unique(con, cohort, ssn, exit_year, exit_quarter, _ssn_list(exclude_ssns))
    group_select = "".join(f"{b}, " for b in by)
    group_by = f"GROUP BY {', '.join(by)}" if by else ""
    order_by = f"ORDER BY {', '.join(by)}" if by else ""

    def share(flag, among="1 = 1"):
        return (f"AVG(CASE WHEN {flag} IS NULL OR NOT ({among}) THEN NULL "
                f"WHEN {flag} THEN 1.0 ELSE 0.0 END)")

    return _run(con, f"""
SELECT {group_select}
       COUNT(*) AS exiters,
       SUM(CASE WHEN linked THEN 1 ELSE 0 END) AS linked,
       SUM(CASE WHEN employed_q2 THEN 1 ELSE 0 END) AS n_employed_q2,
       {share('employed_q2')} AS employment_rate_q2,
       SUM(CASE WHEN employed_q4 THEN 1 ELSE 0 END) AS n_employed_q4,
       {share('employed_q4')} AS employment_rate_q4,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN employed_q2 THEN earnings_q2 END)
           AS median_earnings_q2,
       {share('same_employer_q2_q4', 'COALESCE(employed_q2, FALSE)')} AS retention_rate,
       {share('stable_q1_q4')} AS stable_rate,
       {share('full_quarter_q2')} AS full_quarter_rate_q2
FROM ({sql}) AS o
{group_by}
{order_by}
""", counts=("exiters", "linked", "n_employed_q2", "n_employed_q4"))


# --------------------------------------------------------------------------- employer (demand) side
_COUNTS = ("workers", "emp_begin", "emp_end", "full_quarter", "hires", "new_hires", "separations", "total_wages")


def _job_flags_sql(wage_table, exclude):
    """CTEs ``bounds``, ``jq`` (worker x employer x quarter) and ``flags`` (continuity at that employer)."""
    wage_table = _table(wage_table, "wage_table")
    usable = _usable_ssn_sql("ssn", exclude)
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


def _employer_quarters_sql(wage_table, employer_table, exclude):
    employer_table = _table(employer_table, "employer_table")
    year, quarter = _quarter_cols("f.q")
    usable = _usable_ssn_sql("ssn", exclude)
    return f"""
WITH {_job_flags_sql(wage_table, exclude)},
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


def employer_quarters(con, *, start=None, end=None, wage_table="ui_wage", employer_table="employer",
                      exclude_ssns=PLACEHOLDER_SSNS):
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
    exclude_ssns : sequence of str, keyword-only
        SSN values that cannot identify a worker.

    Returns
    -------
    pandas.DataFrame
        One row per employer and quarter with at least one linked worker paid: ui_account, state_fips,
        county_fips, naics_sector, q (quarter index), year, quarter, the counts above.
    """
    lo, hi = _window(start, end)
    sql = _employer_quarters_sql(wage_table, employer_table, _ssn_list(exclude_ssns))
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
                  employer_table="employer", exclude_ssns=PLACEHOLDER_SSNS):
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
    start, end, wage_table, employer_table, exclude_ssns
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
    sql = _employer_quarters_sql(wage_table, employer_table, _ssn_list(exclude_ssns))
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
                         end=None, wage_table="ui_wage", employer_table="employer", exclude_ssns=PLACEHOLDER_SSNS):
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
    start, end, wage_table, employer_table, exclude_ssns
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
WITH {_job_flags_sql(wage_table, _ssn_list(exclude_ssns))}
SELECT {g_sel} f.q, {year} AS year, {quarter} AS quarter, COUNT(*) AS jobs, {pcts}
FROM flags AS f
CROSS JOIN bounds AS b
JOIN {employer_table} AS e ON e.ui_account = f.ui_account
WHERE {keep} AND {_window_sql('f.q', lo, hi)}
GROUP BY f.q{g_by}
ORDER BY {g_sel} f.q
""", counts=("jobs",))


def worker_flows(con, *, by="naics_sector", start=None, end=None, by_quarter=False, wage_table="ui_wage",
                 employer_table="employer", exclude_ssns=PLACEHOLDER_SSNS):
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
    wage_table, employer_table, exclude_ssns
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
    usable = _usable_ssn_sql("ssn", _ssn_list(exclude_ssns))
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
