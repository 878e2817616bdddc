"""Employment outcomes after exit: the WIOA primary indicators as the law writes them.

The course's one home for exit-based outcomes -- WIOA exiters (modules 6 and 11), TANF leavers, UI
claimants, capstone cohorts. The SQL is composed from named pieces (a cohort, the wage data's bounds, each
member's jobs after exit, then people and rates), each a small function here, and runs on the caller's
connection; it is portable (standard window functions, ``CASE``, ``percentile_cont ... WITHIN GROUP``), so
the same text runs on PostgreSQL.

The indicators (WIOA sec. 116(b)(2)(A)(i), 29 U.S.C. 3141(b)(2)(A)(i))
----------------------------------------------------------------------
For the adult and dislocated-worker programs the law lists six primary indicators: (I) the percentage of
program participants in unsubsidized employment during the 2nd quarter after exit; (II) the same in the
4th quarter after exit; (III) the median earnings of participants in unsubsidized employment during the
2nd quarter after exit; (IV) credential attainment during participation or within a year after exit;
(V) measurable skill gains during a program year; (VI) effectiveness in serving employers. Wage records
measure (I)-(III) and the "retention with the same employer" approach to (VI), which this module computes;
(IV) and (V) need education and training records.

Who is in the denominator
-------------------------
The rate is over **program participants who exited**. The only participants left out are the exclusions
of 20 CFR 677.155 and TEGL 10-16 (exit because of incarceration or another institution, a health or medical
condition expected to last over 90 days, death, a reserve or National Guard call to active duty, and for
youth a foster-care move). A participant *not found* in the wage records counts as **not employed** unless
supplemental wage information shows employment (TEGL 10-16; TEGL 26-16 lists what counts as supplemental
information). An exiter whose SSN is missing or unusable cannot be found in the wage records, so under the
federal rule they stay in the denominator as not employed. ``denominator="exiters"`` (the default) does
that; ``denominator="linked"`` keeps only exiters with a usable SSN -- a **sensitivity check** showing how
much the unfindable exiters move the rate, not the federal indicator. The course's PIRL-like ``wioa`` table
carries neither exit reasons nor supplemental wage information, so no exclusion is applied and wage records
are the only source.

Definitions shared by every function
------------------------------------
* Quarter *k* after exit is the *k*-th calendar quarter after the exit quarter, counted on an index
  ``year * 4 + quarter - 1`` so that it crosses year boundaries.
* A member is *linked* when their SSN is valid under :mod:`statelab.identifiers`. Only linked members can
  be found in the wage records; the wage file's own SSNs are taken as they are.
* A measure needing a quarter outside the wage data is ``NULL`` (undefined), never 0 or False.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .identifiers import clean_ssn_sql, key_status_sql
from .snapshot import _age_group_sql, _age_sql  # the age groups of module 4's tables
from .uncertainty import _wilson  # one Wilson interval (NaN without trials), without statsmodels

__all__ = [
    "DENOMINATORS",
    "MIN_WAGE_QUARTERLY",
    "WIOA_PROGRAMS",
    "employment_by_relative_quarter",
    "exit_outcome_rates",
    "exit_outcomes",
    "wioa_exiters",
    "wioa_exiters_sql",
]

#: Quarterly earnings of a full-time, federal-minimum-wage job: $7.25 x 35 hours x 13 weeks = 3,298.75.
#: One training class counted a person as employed only at or above this amount.
MIN_WAGE_QUARTERLY: float = 7.25 * 35 * 13

#: ``"exiters"``: every cohort member (the federal rule). ``"linked"``: members with a usable SSN only
#: (a sensitivity check).
DENOMINATORS: tuple[str, ...] = ("exiters", "linked")

#: WIOA Title I funding streams in the ``wioa`` table.
WIOA_PROGRAMS: tuple[str, ...] = ("adult", "dislocated_worker", "youth")

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATE = re.compile(r"^[0-9]{2}$")
_QUERY = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)
_RESERVED = {"ssn", "exit_year", "exit_quarter", "home_state", "exit_q", "linked"}
_OWN = ("home_state", "exit_year", "exit_quarter")  # columns the cohort piece always has; grouping by them is fine


# ------------------------------------------------------------------------------------------ checks
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


def _source(cohort):
    """``FROM`` text for a cohort given as a table name or as a ``SELECT``/``WITH`` query."""
    if isinstance(cohort, str) and _TABLE.match(cohort):
        return cohort
    if isinstance(cohort, str) and _QUERY.match(cohort):
        return f"({cohort})"
    raise ValueError(f"cohort must be a table name such as 'exiters_2021' or a SELECT query "
                     f"(e.g. from wioa_exiters_sql), got {str(cohort)[:60]!r}")


def _table(name, what="table"):
    if not isinstance(name, str) or not _TABLE.match(name):
        raise ValueError(f"{what} must be a table name such as 'ui_wage' or 'statelab.ui_wage', got {name!r}")
    return name


def _int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
    return int(value)


def _state_filter(states, home_state):
    if isinstance(states, str) and states == "all":
        return ""
    if isinstance(states, str) and states == "home":
        if home_state is None:
            raise ValueError("states='home' needs home_state=<the cohort column holding each person's state FIPS>")
        return "AND w.state_fips = c.home_state"
    if (isinstance(states, Sequence) and not isinstance(states, str) and states
            and all(isinstance(s, str) and _STATE.match(s) for s in states)):
        return f"AND w.state_fips IN ({', '.join(repr(s) for s in states)})"
    raise ValueError(f"states must be 'all', 'home' or a non-empty list of 2-digit FIPS strings, got {states!r}")


def _employed_test(min_earnings):
    if min_earnings is None:
        return "> 0"
    if isinstance(min_earnings, (int, float, np.integer, np.floating)) and not isinstance(min_earnings, bool) \
            and min_earnings > 0:
        return f">= {float(min_earnings)!r}"
    raise ValueError(f"min_earnings must be a positive number of dollars or None, got {min_earnings!r}")


def _denominator(denominator):
    if denominator not in DENOMINATORS:
        raise ValueError(f"denominator must be one of {DENOMINATORS} ('exiters' is the WIOA rule; 'linked' a "
                         f"sensitivity check), got {denominator!r}")
    return denominator


# --------------------------------------------------------------------------------- named SQL pieces
def _cohort_cte(cohort, *, ssn, exit_year, exit_quarter, home_state, keep):
    """``cohort``: one row per member -- the cleaned SSN, the exit quarter index, ``linked`` (0/1)."""
    ssn, exit_year, exit_quarter = (_column(c, n) for c, n in ((ssn, "ssn"), (exit_year, "exit_year"),
                                                                (exit_quarter, "exit_quarter")))
    home = f"c.{_column(home_state, 'home_state')} AS home_state, " if home_state is not None else ""
    kept = "".join(f"c.{k} AS {k}, " for k in keep)
    clean = clean_ssn_sql(f"c.{ssn}")
    return f"""cohort AS (
    SELECT {clean} AS ssn, c.{exit_year} AS exit_year, c.{exit_quarter} AS exit_quarter, {home}{kept}
           c.{exit_year} * 4 + c.{exit_quarter} - 1 AS exit_q,
           CASE WHEN {clean} IS NULL THEN 0 ELSE 1 END AS linked
    FROM {_source(cohort)} AS c
)"""


def _bounds_cte(wage_table):
    """``bounds``: the first and last quarter index present in the wage data."""
    return f"""bounds AS (
    SELECT MIN(year * 4 + quarter - 1) AS first_q, MAX(year * 4 + quarter - 1) AS last_q
    FROM {_table(wage_table, 'wage_table')}
)"""


def _jobs_cte(wage_table, state_filter, quarters):
    """``jobs``: each linked member's wages by employer and relative quarter ``k`` (one of ``quarters``)."""
    lo, hi = min(quarters), max(quarters)
    return f"""jobs AS (
    SELECT c.ssn, c.exit_q, w.ui_account, w.year * 4 + w.quarter - 1 - c.exit_q AS k, SUM(w.wages) AS wages
    FROM (SELECT DISTINCT ssn, exit_q{', home_state' if 'home_state' in state_filter else ''}
          FROM cohort WHERE linked = 1) AS c
    JOIN {_table(wage_table, 'wage_table')} AS w ON w.ssn = c.ssn
    WHERE w.year * 4 + w.quarter - 1 BETWEEN c.exit_q + {lo} AND c.exit_q + {hi}
      {state_filter}
    GROUP BY c.ssn, c.exit_q, w.ui_account, w.year * 4 + w.quarter - 1 - c.exit_q
)"""


def _person_cte(quarters):
    """``person``: each linked member's total wages in each quarter ``k`` after exit."""
    sums = ",\n           ".join(f"SUM(CASE WHEN k = {k} THEN wages ELSE 0 END) AS earnings_q{k}" for k in quarters)
    return f"""person AS (
    SELECT ssn, exit_q,
           {sums}
    FROM jobs
    GROUP BY ssn, exit_q
)"""


def _same_employer_cte():
    """``same_employer``: whether one employer paid the member in quarters 2 and 4, 1-4, or 1-3 after exit."""
    has = ",\n                   ".join(f"MAX(CASE WHEN k = {k} AND wages > 0 THEN 1 ELSE 0 END) AS h{k}"
                                       for k in range(1, 5))
    return f"""same_employer AS (
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
)"""


def _observed(k):
    """SQL condition: quarter k after the member's exit lies inside the wage data."""
    return f"c.exit_q + {k} BETWEEN b.first_q AND b.last_q"


def _outcomes_select(*, home_state, keep, employed):
    """The per-member outcomes; a member not found in the wage records is not employed (TEGL 10-16)."""
    earnings = ",\n       ".join(
        f"CASE WHEN {_observed(k)} THEN COALESCE(p.earnings_q{k}, 0) END AS earnings_q{k}" for k in range(1, 5))
    employed_cols = ",\n       ".join(
        f"CASE WHEN {_observed(k)} THEN COALESCE(p.earnings_q{k}, 0) {employed} END AS employed_q{k}"
        for k in range(1, 5))
    out_home = "c.home_state, " if home_state is not None else ""
    out_keep = "".join(f"c.{k}, " for k in keep)
    return f"""SELECT c.ssn, c.exit_year, c.exit_quarter, {out_home}{out_keep}c.linked = 1 AS linked,
       {earnings},
       {employed_cols},
       CASE WHEN {_observed(2)} AND c.exit_q + 4 <= b.last_q
            THEN COALESCE(e.same_q2_q4, 0) = 1 END AS same_employer_q2_q4,
       CASE WHEN {_observed(1)} AND c.exit_q + 4 <= b.last_q
            THEN COALESCE(e.same_q1_q4, 0) = 1 END AS stable_q1_q4,
       CASE WHEN c.exit_q + 2 > b.first_q AND c.exit_q + 2 < b.last_q
            THEN COALESCE(e.same_q1_q3, 0) = 1 END AS full_quarter_q2
FROM cohort AS c
CROSS JOIN bounds AS b
LEFT JOIN person AS p ON p.ssn = c.ssn AND p.exit_q = c.exit_q
LEFT JOIN same_employer AS e ON e.ssn = c.ssn AND e.exit_q = c.exit_q"""


def _with(*ctes):
    return "WITH " + ",\n".join(ctes) + "\n"


def _outcomes_sql(cohort, *, ssn, exit_year, exit_quarter, states, home_state, min_earnings, wage_table, keep):
    keep = _columns(keep, "keep")
    clash = [k for k in keep if k in _RESERVED]
    if clash:
        raise ValueError(f"keep names columns the result already has: {clash!r}")
    state_filter = _state_filter(states, home_state)
    employed = _employed_test(min_earnings)
    quarters = range(1, 5)
    return _with(
        _cohort_cte(cohort, ssn=ssn, exit_year=exit_year, exit_quarter=exit_quarter, home_state=home_state,
                    keep=keep),
        _bounds_cte(wage_table),
        _jobs_cte(wage_table, state_filter, quarters),
        _person_cte(quarters),
        _same_employer_cte(),
    ) + _outcomes_select(home_state=home_state, keep=keep, employed=employed)


def _check_cohort(con, cohort, columns):
    """One-line errors for a cohort that lacks a column or has one person's exit on several rows."""
    ssn, exit_year, exit_quarter = columns[:3]
    have = set(con.sql(f"SELECT * FROM {_source(cohort)} AS c LIMIT 0").columns)
    missing = [c for c in columns if c is not None and c not in have]
    if missing:
        raise ValueError(f"the cohort has no column {missing[0]!r}; its columns are {sorted(have)}")
    clean = clean_ssn_sql(_column(ssn, "ssn"))
    dup = con.sql(f"""
        SELECT {clean} AS ssn, {exit_year} AS exit_year, {exit_quarter} AS exit_quarter, COUNT(*) AS n
        FROM {_source(cohort)} AS c
        WHERE {clean} IS NOT NULL
        GROUP BY {clean}, {exit_year}, {exit_quarter}
        HAVING COUNT(*) > 1
    """).df()
    if len(dup):
        first = dup.iloc[0]
        raise ValueError(
            f"the cohort has {len(dup)} (ssn, exit quarter) combinations on more than one row, e.g. "
            f"ssn {first['ssn']!r} exiting {first['exit_year']}Q{first['exit_quarter']} on {first['n']} rows: "
            "de-duplicate the cohort first (one row per person and exit)"
        )



# ------------------------------------------------------------------------------------ per member
def exit_outcomes(con, cohort, *, ssn="ssn", exit_year="exit_year", exit_quarter="exit_quarter", states="all",
                  home_state=None, min_earnings=None, wage_table="ui_wage", keep=()):
    """Employment outcomes after exit, one row per cohort member (WIOA primary-indicator definitions).

    * **earnings_qk** -- total UI wages in quarter k after exit from every employer in the wage files that
      count (see ``states``); 0 when none are found.
    * **employed_qk** -- any UI wages in quarter k (``earnings_qk > 0``), or with ``min_earnings`` wages at
      or above that amount (e.g. :data:`MIN_WAGE_QUARTERLY`). A member who is not found in the wage
      records -- including one whose SSN is missing or unusable (``linked`` False) -- is not employed: the
      federal rule (TEGL 10-16) absent supplemental wage information.
    * **same_employer_q2_q4** -- wages from the same employer (UI account) in quarters 2 and 4 (the WIOA
      "retention with the same employer" approach to effectiveness in serving employers).
    * **stable_q1_q4** -- wages from the same employer in every one of quarters 1-4.
    * **full_quarter_q2** -- full-quarter employment in quarter 2 (LEHD/QWI): wages from the same employer
      in quarters 1, 2 and 3 after exit; undefined when quarter 2 is the data's first or last quarter.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection on which ``cohort`` and ``wage_table`` can be queried.
    cohort : str
        A table or view with one row per person and exit, or a ``SELECT`` query such as
        :func:`wioa_exiters_sql`.
    ssn, exit_year, exit_quarter : str, keyword-only
        Column names in ``cohort``.
    states : {"all", "home"} or list of str, keyword-only
        Which states' wage files count: every state's, only the file of the member's own state (``"home"``,
        needs ``home_state``), or the listed state FIPS codes.
    home_state : str, optional, keyword-only
        Column of ``cohort`` with each member's state FIPS code.
    min_earnings : float, optional, keyword-only
        Quarterly wages needed to count as employed; default any wages.
    wage_table : str, keyword-only
        UI wage records (columns ssn, state_fips, ui_account, year, quarter, wages).
    keep : sequence of str, keyword-only
        Other cohort columns to carry into the result (e.g. ``["program"]``).

    Returns
    -------
    pandas.DataFrame
        ssn (the cleaned SSN, missing when not linked), exit_year, exit_quarter, [home_state], [keep...],
        linked, earnings_q1..q4, employed_q1..q4, same_employer_q2_q4, stable_q1_q4, full_quarter_q2.

    Raises
    ------
    ValueError
        For a bad option, or a cohort with the same (valid SSN, exit quarter) on several rows.
    """
    sql = _outcomes_sql(cohort, ssn=ssn, exit_year=exit_year, exit_quarter=exit_quarter, states=states,
                        home_state=home_state, min_earnings=min_earnings, wage_table=wage_table, keep=keep)
    _check_cohort(con, cohort, [ssn, exit_year, exit_quarter, home_state, *_columns(keep, 'keep')])
    df = con.sql(f"SELECT * FROM ({sql}) AS o ORDER BY exit_year, exit_quarter, ssn").df()
    for c in (f"earnings_q{k}" for k in range(1, 5)):
        df[c] = df[c].round().astype("Int64")
    return df


# ------------------------------------------------------------------------------------------- rates
def exit_outcome_rates(con, cohort, *, by=(), denominator="exiters", confidence=0.95, ssn="ssn",
                       exit_year="exit_year", exit_quarter="exit_quarter", states="all", home_state=None,
                       min_earnings=None, wage_table="ui_wage"):
    """The WIOA employment indicators and two stability measures for a cohort, with intervals.

    Built on :func:`exit_outcomes` (same definitions and options). Per group of ``by``:

    * **exiters** -- cohort rows; **linked** -- rows with a usable SSN.
    * **employment_rate_q2**, **employment_rate_q4** -- share of the denominator employed in the 2nd / 4th
      quarter after exit (members whose quarter lies outside the wage data are left out), with a Wilson
      interval at ``confidence`` in ``..._low`` and ``..._high``; **n_employed_q2**, **n_employed_q4** are
      the counts.
    * **median_earnings_q2** -- median quarter-2 earnings among those employed in quarter 2 (an exact
      median: not for release before disclosure review).
    * **retention_rate** -- among those employed in quarter 2, the share with the same employer in
      quarters 2 and 4.
    * **stable_rate** -- share of the denominator with the same employer in all of quarters 1-4.
    * **full_quarter_rate_q2** -- share of the denominator full-quarter employed in quarter 2.

    Parameters
    ----------
    con, cohort, ssn, exit_year, exit_quarter, states, home_state, min_earnings, wage_table
        As in :func:`exit_outcomes`.
    by : str or sequence of str, keyword-only
        Cohort columns to group by (e.g. ``"program"``); ``"home_state"`` groups by the ``home_state``
        column. Default: one row for the whole cohort.
    denominator : {"exiters", "linked"}, keyword-only
        ``"exiters"`` (default): every member, the unfindable counted as not employed -- the federal rule.
        ``"linked"``: members with a usable SSN only -- a sensitivity check, not the federal indicator.
    confidence : float, keyword-only
        Confidence level of the intervals (Wilson score, as statsmodels computes it).

    Returns
    -------
    pandas.DataFrame
        One row per group, ordered by the group columns.
    """
    _denominator(denominator)
    if isinstance(confidence, bool) or not isinstance(confidence, float) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number strictly between 0 and 1 such as 0.95, got {confidence!r}")
    by = _columns(by, "by")
    keep = [b for b in by if b not in _OWN]  # the cohort CTE already has these columns
    if "home_state" in by and home_state is None:
        raise ValueError("by='home_state' needs home_state=<cohort column>")
    sql = _outcomes_sql(cohort, ssn=ssn, exit_year=exit_year, exit_quarter=exit_quarter, states=states,
                        home_state=home_state, min_earnings=min_earnings, wage_table=wage_table, keep=keep)
    _check_cohort(con, cohort, [ssn, exit_year, exit_quarter, home_state, *keep])
    among = "linked" if denominator == "linked" else "1 = 1"

    def share(flag, condition=among):
        return f"AVG(CASE WHEN {flag} IS NULL OR NOT ({condition}) THEN NULL WHEN {flag} THEN 1.0 ELSE 0.0 END)"

    def count(flag, condition="1 = 1"):
        return f"SUM(CASE WHEN {flag} IS NOT NULL AND {condition} THEN 1 ELSE 0 END)"

    group_select = "".join(f"{b}, " for b in by)
    group_by = f"GROUP BY {', '.join(by)} ORDER BY {', '.join(by)}" if by else ""
    df = con.sql(f"""
SELECT {group_select}
       COUNT(*) AS exiters,
       SUM(CASE WHEN linked THEN 1 ELSE 0 END) AS linked,
       SUM(CASE WHEN employed_q2 AND {among} THEN 1 ELSE 0 END) AS n_employed_q2,
       {count('employed_q2', among)} AS n_q2,
       {share('employed_q2')} AS employment_rate_q2,
       SUM(CASE WHEN employed_q4 AND {among} THEN 1 ELSE 0 END) AS n_employed_q4,
       {count('employed_q4', among)} AS n_q4,
       {share('employed_q4')} AS employment_rate_q4,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN employed_q2 THEN earnings_q2 END)
           AS median_earnings_q2,
       {share('same_employer_q2_q4', 'COALESCE(employed_q2, FALSE)')} AS retention_rate,
       {share('stable_q1_q4')} AS stable_rate,
       {share('full_quarter_q2')} AS full_quarter_rate_q2
FROM ({sql}) AS o
{group_by}
""").df()
    for c in ("exiters", "linked", "n_employed_q2", "n_employed_q4", "n_q2", "n_q4"):
        df[c] = df[c].fillna(0).round().astype("int64")
    for k in (2, 4):
        low, high = _wilson(df[f"n_employed_q{k}"], df[f"n_q{k}"], 1 - confidence)
        at = df.columns.get_loc(f"employment_rate_q{k}") + 1
        df.insert(at, f"employment_rate_q{k}_high", high)
        df.insert(at, f"employment_rate_q{k}_low", low)
    for c in ("employment_rate_q2", "employment_rate_q4", "median_earnings_q2", "retention_rate", "stable_rate",
              "full_quarter_rate_q2"):
        df[c] = df[c].astype("float64")
    return df.drop(columns=["n_q2", "n_q4"])


def employment_by_relative_quarter(con, cohort, *, quarters=range(-4, 5), by=(), denominator="exiters",
                                   ssn="ssn", exit_year="exit_year", exit_quarter="exit_quarter",
                                   wage_table="ui_wage"):
    """Share of a cohort with UI-covered wages in each quarter relative to the exit quarter (0).

    Parameters
    ----------
    con, cohort, ssn, exit_year, exit_quarter, wage_table
        As in :func:`exit_outcomes` (every state's wage file counts).
    quarters : iterable of int, keyword-only
        Relative quarters, from -40 to 40.
    by : str or sequence of str, keyword-only
        Cohort columns to group by.
    denominator : {"exiters", "linked"}, keyword-only
        As in :func:`exit_outcome_rates`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``relative_quarter``, ``members`` (the denominator), ``employed`` and ``rate``.
        A quarter outside the wage data is left out of its row's denominator.
    """
    _denominator(denominator)
    rel = sorted({_int("quarter", q, -40, 40) for q in quarters})
    if not rel:
        raise ValueError(f"quarters must name at least one relative quarter, got {quarters!r}")
    by = _columns(by, "by")
    own = ("exit_year", "exit_quarter")
    clash = [b for b in by if b in _RESERVED and b not in own]
    if clash:
        raise ValueError(f"by names columns the cohort table gets from ssn/exit_year/exit_quarter: {clash!r}")
    keep = [b for b in by if b not in own]
    _check_cohort(con, cohort, [ssn, exit_year, exit_quarter, *keep])
    values = " UNION ALL ".join(f"SELECT {q} AS rel" for q in rel)
    among = "c.linked = 1" if denominator == "linked" else "1 = 1"
    select = "".join(f"c.{b}, " for b in by)
    group = ", ".join([f"c.{b}" for b in by] + ["r.rel"])
    order = ", ".join(list(by) + ["relative_quarter"])
    sql = _with(
        _cohort_cte(cohort, ssn=ssn, exit_year=exit_year, exit_quarter=exit_quarter, home_state=None, keep=keep),
        _bounds_cte(wage_table),
        _jobs_cte(wage_table, "", rel),
    ) + f"""SELECT {select}r.rel AS relative_quarter,
       COUNT(*) AS members,
       SUM(CASE WHEN COALESCE(p.wages, 0) > 0 THEN 1 ELSE 0 END) AS employed
FROM cohort AS c
CROSS JOIN ({values}) AS r
CROSS JOIN bounds AS b
LEFT JOIN (SELECT ssn, exit_q, k, SUM(wages) AS wages FROM jobs GROUP BY ssn, exit_q, k) AS p
       ON p.ssn = c.ssn AND p.exit_q = c.exit_q AND p.k = r.rel
WHERE {among} AND c.exit_q + r.rel BETWEEN b.first_q AND b.last_q
GROUP BY {group}
ORDER BY {order}"""
    out = con.sql(sql).df()
    for c in ("members", "employed", "relative_quarter"):
        out[c] = out[c].astype("int64")
    out["rate"] = out["employed"] / out["members"]
    return out


# ------------------------------------------------------------------------------------ WIOA exiters
def wioa_exiters_sql(*, first_year, last_year, programs=WIOA_PROGRAMS, max_units=3):
    """SQL for a WIOA exit cohort: one row per period of participation ending in the given years.

    Repeated PIRL rows are collapsed by (``unique_individual_id``, ``entry_date``, ``exit_date``), keeping
    a copy with an SSN where there is one, then the lowest ``record_id``. ``ssn_status`` is the
    :data:`statelab.identifiers.KEY_STATUSES` value of the SSN: ``shared`` when it is recorded on more than
    ``max_units`` participants in the cohort. ``ssn`` holds the SSN only when it is ``usable``.

    Parameters
    ----------
    first_year, last_year : int, keyword-only
        Calendar years of exit, inclusive.
    programs : sequence of str, keyword-only
        Funding streams from :data:`WIOA_PROGRAMS`.
    max_units : int, keyword-only
        The most participants one person's SSN plausibly appears on.

    Returns
    -------
    str
        A ``SELECT`` with columns unique_individual_id, record_id, ssn, ssn_status, state_fips, county_fips,
        program, sex, race_ethnicity, age_group (at exit, :data:`statelab.snapshot.AGE_GROUPS`), received_training, entry_date, exit_date,
        exit_year, exit_quarter. Pass it as ``cohort`` to :func:`exit_outcome_rates`, or create a table.
    """
    first_year = _int("first_year", first_year, 1900, 2100)
    last_year = _int("last_year", last_year, first_year, 2100)
    max_units = _int("max_units", max_units, 1, 1_000_000)
    programs = (programs,) if isinstance(programs, str) else tuple(programs)
    if not programs or any(p not in WIOA_PROGRAMS for p in programs):
        raise ValueError(f"programs must be a non-empty selection of {WIOA_PROGRAMS}, got {programs!r}")
    status = key_status_sql("p.ssn", shared=f"u.participants > {max_units}")
    return f"""WITH periods AS (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY unique_individual_id, entry_date, exit_date
                                ORDER BY CASE WHEN ssn IS NULL THEN 1 ELSE 0 END, record_id) AS copy_number
    FROM wioa
    WHERE exit_date BETWEEN DATE '{first_year}-01-01' AND DATE '{last_year}-12-31'
      AND program IN ({', '.join(f"'{p}'" for p in programs)})
),
ssn_use AS (
    SELECT ssn, COUNT(DISTINCT unique_individual_id) AS participants
    FROM periods
    WHERE copy_number = 1 AND ssn IS NOT NULL
    GROUP BY ssn
)
SELECT p.unique_individual_id, p.record_id,
       CASE WHEN {status} = 'usable' THEN p.ssn END AS ssn,
       {status} AS ssn_status,
       p.state_fips, p.county_fips, p.program, p.sex, p.race_ethnicity,
       {_age_group_sql(_age_sql('p.dob', 'p.exit_date'))} AS age_group,
       p.received_training, p.entry_date, p.exit_date,
       CAST(EXTRACT(YEAR FROM p.exit_date) AS INTEGER) AS exit_year,
       CAST(EXTRACT(QUARTER FROM p.exit_date) AS INTEGER) AS exit_quarter
FROM periods AS p
LEFT JOIN ssn_use AS u ON u.ssn = p.ssn
WHERE p.copy_number = 1"""


_WIOA_KEEP = ("unique_individual_id", "record_id", "ssn_status", "state_fips", "county_fips", "program", "sex",
              "race_ethnicity", "age_group", "received_training", "entry_date", "exit_date")


def wioa_exiters(con, *, first_year, last_year, programs=WIOA_PROGRAMS, max_units=3):
    """The WIOA exit cohort of :func:`wioa_exiters_sql` with each exiter's outcomes (:func:`exit_outcomes`).

    Returns
    -------
    pandas.DataFrame
        One row per period of participation, ordered by participant and entry date: the cohort columns
        (without the SSN), ``linked``, and earnings, employment and stability outcomes in quarters 1-4 after
        exit. Exiters without a usable SSN are not employed (the federal rule); ``linked`` marks them.
    """
    sql = wioa_exiters_sql(first_year=first_year, last_year=last_year, programs=programs, max_units=max_units)
    out = exit_outcomes(con, sql, keep=_WIOA_KEEP)
    out = out.drop(columns=["ssn"]).sort_values(["unique_individual_id", "entry_date"], ignore_index=True)
    return out[list(_WIOA_KEEP) + [c for c in out.columns if c not in _WIOA_KEEP]]
