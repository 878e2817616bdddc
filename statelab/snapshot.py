"""Cross-sectional tables: who was on a program in a period, and program exiters' outcomes.

Module 4 asks who received TANF, SNAP or UI benefits (or took part in WIOA) in one quarter, and how
many people were on more than one program. Module 11 charts the employment outcomes of WIOA exiters.
The functions here build those tables with SQL on the caller's DuckDB connection (portable SQL: no
DuckDB-only syntax), so a notebook shows the definition once and every later count uses the same one.

Two definitions of "on a program in the quarter" are supported, and every function asks which:

``"ever"`` (ever in the quarter)
    A TANF or SNAP case with a case-month in any month of the quarter; a UI claim with a paid week ending
    in the quarter; a WIOA period of participation that overlaps the quarter.
``"point"`` (point in time)
    On the *reference date*, the 12th of the quarter's last month (the day whose pay period QCEW
    employment counts use): a TANF or SNAP case-month in that month, a UI claim paid for the week
    containing that day, a WIOA participant who had entered and not yet exited on that day.

The unit of each program file is kept (a TANF or SNAP *case*, identified by its head; a UI *claim*; a
WIOA *participant*); people are counted by *usable* SSN. An SSN is not usable when it is missing, a known
placeholder (:data:`PLACEHOLDER_SSNS`), or *shared*: recorded on more than ``max_units`` units of one
program in the period, which one person cannot plausibly be.

>>> from statelab import snapshot
>>> snapshot.reference_period(2022, 1, definition="point").reference_date
datetime.date(2022, 3, 12)

Comparing with the hidden truth (``key="person"``) is an instructor and test tool: it needs a connection
opened with ``truth=True``, which learners do not have.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import NamedTuple

import pandas as pd
from .linkage import PLACEHOLDER_SSNS  # the course's one placeholder list, re-exported

__all__ = [
    "PROGRAMS",
    "DEFINITIONS",
    "PLACEHOLDER_SSNS",
    "AGE_GROUPS",
    "ReferencePeriod",
    "reference_period",
    "recipients_sql",
    "recipients",
    "snapshot_counts",
    "coenrollment",
    "programs_per_person",
    "exiters_sql",
    "exiters",
    "exit_outcome_rates",
    "employment_by_relative_quarter",
]

#: Programs in the snapshot, in display order.
PROGRAMS: tuple[str, ...] = ("TANF", "SNAP", "UI", "WIOA")

#: The two ways to say "on a program in the quarter".
DEFINITIONS: tuple[str, ...] = ("ever", "point")


#: Age groups (at the reference date), as (label, lowest age, highest age).
AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("under 25", 0, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
    ("65 and over", 65, 200),
)

_SOURCE_TABLE = {"TANF": "tanf", "SNAP": "snap", "UI": "ui_claim", "WIOA": "wioa"}
_WIOA_PROGRAMS = ("adult", "dislocated_worker", "youth")


class ReferencePeriod(NamedTuple):
    """The dates that define a quarter's snapshot."""

    year: int
    quarter: int
    definition: str
    first_month: int  # YYYYMM
    last_month: int  # YYYYMM
    start: _dt.date  # first day counted
    end: _dt.date  # last day counted
    reference_date: _dt.date  # the 12th of the quarter's last month


# ------------------------------------------------------------------------------------------ checks
def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
    return value


def _check_definition(definition) -> str:
    if definition not in DEFINITIONS:
        raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
    return definition


def _check_programs(programs) -> tuple[str, ...]:
    if isinstance(programs, str):
        programs = (programs,)
    programs = tuple(programs)
    bad = [p for p in programs if p not in PROGRAMS]
    if bad or not programs:
        raise ValueError(f"programs must be a non-empty selection of {PROGRAMS}, got {programs!r}")
    return tuple(p for p in PROGRAMS if p in programs)


_GROUPABLE = ("program", "state_fips", "county_fips", "sex", "age_group", "race_ethnicity", "ssn_status")


def _check_by(by, allowed=_GROUPABLE) -> tuple[str, ...]:
    if isinstance(by, str):
        by = (by,)
    by = tuple(by)
    bad = [b for b in by if b not in allowed]
    if bad:
        raise ValueError(f"by must name columns from {allowed}, got {bad!r}")
    return by


# ----------------------------------------------------------------------------------------- periods
def reference_period(year: int, quarter: int, *, definition: str = "ever") -> ReferencePeriod:
    """The months and dates a snapshot of ``year`` Q``quarter`` counts, under ``definition``.

    Parameters
    ----------
    year, quarter : int
        The calendar quarter.
    definition : {"ever", "point"}
        ``"ever"``: the whole quarter. ``"point"``: the reference date (the 12th of the quarter's last
        month), its month for monthly files and its Sunday-Saturday week for weekly UI payments.

    Returns
    -------
    ReferencePeriod
    """
    _check_int("year", year, 1900, 2100)
    _check_int("quarter", quarter, 1, 4)
    _check_definition(definition)
    last = quarter * 3
    ref = _dt.date(year, last, 12)
    if definition == "ever":
        first = last - 2
        start = _dt.date(year, first, 1)
        end = (_dt.date(year + 1, 1, 1) if last == 12 else _dt.date(year, last + 1, 1)) - _dt.timedelta(days=1)
        return ReferencePeriod(year, quarter, definition, year * 100 + first, year * 100 + last, start, end, ref)
    return ReferencePeriod(year, quarter, definition, year * 100 + last, year * 100 + last, ref, ref, ref)


def _date(d: _dt.date) -> str:
    return f"DATE '{d.isoformat()}'"


# -------------------------------------------------------------------------------------- recipients
def _age_sql(dob: str, ref) -> str:
    """Whole years of age on ``ref`` (a date, or an SQL date expression); portable: EXTRACT only."""
    ref_sql = _date(ref) if isinstance(ref, _dt.date) else ref

    def part(what: str, col: str) -> str:
        return f"CAST(EXTRACT({what} FROM {col}) AS INTEGER)"

    return (
        f"({part('YEAR', ref_sql)} - {part('YEAR', dob)} - CASE WHEN "
        f"{part('MONTH', dob)} * 100 + {part('DAY', dob)} > {part('MONTH', ref_sql)} * 100 + {part('DAY', ref_sql)} "
        "THEN 1 ELSE 0 END)"
    )


def _age_group_sql(age: str) -> str:
    whens = " ".join(f"WHEN {age} BETWEEN {lo} AND {hi} THEN '{label}'" for label, lo, hi in AGE_GROUPS)
    return f"CASE WHEN {age} IS NULL THEN 'unknown' {whens} ELSE 'unknown' END"


def _placeholder_list() -> str:
    return ", ".join(f"'{s}'" for s in PLACEHOLDER_SSNS)


def _unit_selects(p: ReferencePeriod, programs: tuple[str, ...]) -> list[str]:
    parts = []
    monthly = {"TANF": ("tanf", "reporting_month"), "SNAP": ("snap", "file_month")}
    for prog in programs:
        if prog in monthly:
            table, month = monthly[prog]
            parts.append(f"""
    SELECT '{prog}' AS program, '{table}' AS source_table, case_id AS unit_id, record_id,
           head_ssn AS ssn, state_fips, county_fips, head_sex AS sex, head_dob AS dob,
           CAST(NULL AS VARCHAR) AS race_ethnicity,
           ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY {month} DESC, record_id DESC) AS pick
    FROM {table}
    WHERE {month} BETWEEN {p.first_month} AND {p.last_month}""")
        elif prog == "UI":
            if p.definition == "ever":
                weeks = f"w.week_ending_date BETWEEN {_date(p.start)} AND {_date(p.end)}"
            else:  # the Sunday-Saturday week that contains the reference date ends 0-6 days after it
                weeks = (f"w.week_ending_date BETWEEN {_date(p.reference_date)} "
                         f"AND {_date(p.reference_date + _dt.timedelta(days=6))}")
            parts.append(f"""
    SELECT 'UI' AS program, 'ui_claim' AS source_table, c.claim_id AS unit_id, c.record_id,
           c.ssn, c.state_fips, c.county_fips, c.sex, c.dob,
           CAST(NULL AS VARCHAR) AS race_ethnicity, 1 AS pick
    FROM ui_claim AS c
    WHERE EXISTS (SELECT 1 FROM ui_claim_week AS w WHERE w.claim_id = c.claim_id AND {weeks})""")
        else:  # WIOA: repeated extract rows collapse to one per participant (latest entry, an SSN if any)
            parts.append(f"""
    SELECT 'WIOA' AS program, 'wioa' AS source_table, unique_individual_id AS unit_id, record_id,
           ssn, state_fips, county_fips, sex, dob, race_ethnicity,
           ROW_NUMBER() OVER (PARTITION BY unique_individual_id
                              ORDER BY entry_date DESC, CASE WHEN ssn IS NULL THEN 1 ELSE 0 END, record_id) AS pick
    FROM wioa
    WHERE entry_date <= {_date(p.end)} AND (exit_date IS NULL OR exit_date >= {_date(p.start)})""")
    return parts


def recipients_sql(
    *,
    year: int,
    quarter: int,
    definition: str = "ever",
    programs: Iterable[str] = PROGRAMS,
    max_units: int = 3,
) -> str:
    """SQL for one row per program unit on a program in the quarter (see :func:`recipients`).

    The text is portable SQL over the learner tables ``tanf``, ``snap``, ``ui_claim``,
    ``ui_claim_week`` and ``wioa``; print it to read the definition, or wrap it in
    ``CREATE TABLE recipients AS ...`` to keep the result in a workspace.
    """
    p = reference_period(year, quarter, definition=definition)
    progs = _check_programs(programs)
    _check_int("max_units", max_units, 1, 1_000_000)
    union = "\n    UNION ALL".join(_unit_selects(p, progs))
    age = _age_sql("dob", p.reference_date)
    return f"""WITH units AS ({union}
),
one_row AS (
    SELECT * FROM units WHERE pick = 1
),
ssn_use AS (
    SELECT program, ssn, COUNT(DISTINCT unit_id) AS units_with_ssn
    FROM one_row
    WHERE ssn IS NOT NULL
    GROUP BY program, ssn
)
SELECT
    r.program, r.source_table, r.unit_id, r.record_id, r.ssn,
    CASE
        WHEN r.ssn IS NULL THEN 'missing'
        WHEN r.ssn IN ({_placeholder_list()}) THEN 'placeholder'
        WHEN u.units_with_ssn > {max_units} THEN 'shared'
        ELSE 'usable'
    END AS ssn_status,
    r.state_fips, r.county_fips, r.sex, r.dob,
    {age} AS age,
    {_age_group_sql(age)} AS age_group,
    r.race_ethnicity
FROM one_row AS r
LEFT JOIN ssn_use AS u ON u.program = r.program AND u.ssn = r.ssn
ORDER BY r.program, r.unit_id"""


def recipients(
    con,
    *,
    year: int,
    quarter: int,
    definition: str = "ever",
    programs: Iterable[str] = PROGRAMS,
    max_units: int = 3,
) -> pd.DataFrame:
    """One row per program unit on TANF, SNAP, UI or WIOA in ``year`` Q``quarter``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection from ``synthetic_data.connect``.
    year, quarter : int
        The quarter of the snapshot.
    definition : {"ever", "point"}
        Ever in the quarter, or on the reference date (see the module docstring).
    programs : iterable of str
        Any of :data:`PROGRAMS`.
    max_units : int
        An SSN recorded on more than this many units of one program in the period is ``shared``.

    Returns
    -------
    pandas.DataFrame
        Columns ``program, source_table, unit_id, record_id, ssn, ssn_status, state_fips, county_fips,
        sex, dob, age, age_group, race_ethnicity``. A TANF or SNAP unit is a case (described by its head,
        as of the latest month in the period); a UI unit a claim; a WIOA unit a participant identifier.
        ``ssn_status`` is ``usable``, ``missing``, ``placeholder`` or ``shared``; ``race_ethnicity`` is
        recorded only in WIOA.
    """
    sql = recipients_sql(year=year, quarter=quarter, definition=definition, programs=programs, max_units=max_units)
    return con.sql(sql).df()


def _from_recipients(year, quarter, definition, programs, max_units) -> str:
    return "(" + recipients_sql(
        year=year, quarter=quarter, definition=definition, programs=programs, max_units=max_units
    ).replace("\nORDER BY r.program, r.unit_id", "") + ") AS rec"


def snapshot_counts(
    con,
    *,
    year: int,
    quarter: int,
    definition: str = "ever",
    by: Iterable[str] = ("program",),
    programs: Iterable[str] = PROGRAMS,
    max_units: int = 3,
) -> pd.DataFrame:
    """Counts of program units and of people (distinct usable SSNs) in the quarter, by ``by``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    year, quarter : int
    definition : {"ever", "point"}
    by : iterable of str
        Columns of :func:`recipients` to group by: any of ``program, state_fips, county_fips, sex,
        age_group, race_ethnicity, ssn_status``. Include ``program`` unless you mean to add units of
        different programs together (a case and a claim are different things).
    programs : iterable of str
    max_units : int

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, then ``units`` (cases, claims or participants), ``people`` (distinct usable
        SSNs) and ``no_usable_ssn`` (units whose SSN is missing, a placeholder or shared), sorted by ``by``.
    """
    cols = _check_by(by)
    select = "".join(f"{c}, " for c in cols)
    group = f"GROUP BY {', '.join(cols)} ORDER BY {', '.join(cols)}" if cols else ""
    sql = f"""
SELECT {select}
       COUNT(*) AS units,
       COUNT(DISTINCT CASE WHEN ssn_status = 'usable' THEN ssn END) AS people,
       SUM(CASE WHEN ssn_status = 'usable' THEN 0 ELSE 1 END) AS no_usable_ssn
FROM {_from_recipients(year, quarter, definition, programs, max_units)}
{group}"""
    out = con.sql(sql).df()
    for c in ("units", "people", "no_usable_ssn"):
        out[c] = out[c].fillna(0).astype("int64")
    return out


# ----------------------------------------------------------------------------------- co-enrollment
def _keys_sql(key: str, ssn_rule: str, year, quarter, definition, programs, max_units) -> str:
    rec = _from_recipients(year, quarter, definition, programs, max_units)
    if key == "person":
        return (f"SELECT DISTINCT rec.program, CAST(x.person_id AS VARCHAR) AS person_key FROM {rec} "
                "JOIN truth.crosswalk AS x ON x.source_table = rec.source_table AND x.record_id = rec.record_id")
    where = "ssn_status = 'usable'" if ssn_rule == "usable" else "ssn IS NOT NULL"
    return f"SELECT DISTINCT program, ssn AS person_key FROM {rec} WHERE {where}"


def _check_key_rule(key, ssn_rule):
    if key not in ("ssn", "person"):
        raise ValueError(f"key must be 'ssn' or 'person' (instructor/test tool, needs truth=True), got {key!r}")
    if ssn_rule not in ("usable", "any"):
        raise ValueError(f"ssn_rule must be 'usable' or 'any', got {ssn_rule!r}")


def coenrollment(
    con,
    *,
    year: int,
    quarter: int,
    definition: str = "ever",
    programs: Iterable[str] = PROGRAMS,
    key: str = "ssn",
    ssn_rule: str = "usable",
    max_units: int = 3,
) -> pd.DataFrame:
    """Pairwise co-enrollment: people on both of two programs in the quarter.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    year, quarter : int
    definition : {"ever", "point"}
    programs : iterable of str
    key : {"ssn", "person"}
        ``"ssn"`` counts distinct SSNs as recorded (what an analyst can do). ``"person"`` counts true
        people through ``truth.crosswalk``: an **instructor and test tool** that needs a connection
        opened with ``truth=True``; learners do not have the truth.
    ssn_rule : {"usable", "any"}
        With ``key="ssn"``: ``"usable"`` drops missing, placeholder and shared SSNs; ``"any"`` drops only
        missing ones, so every placeholder value found on both programs counts as a person on both.
    max_units : int

    Returns
    -------
    pandas.DataFrame
        One row per pair of programs (in :data:`PROGRAMS` order): ``program_a, program_b, people_a,
        people_b, both``.
    """
    progs = _check_programs(programs)
    _check_key_rule(key, ssn_rule)
    keys = _keys_sql(key, ssn_rule, year, quarter, definition, progs, max_units)
    sizes = con.sql(f"WITH k AS ({keys}) SELECT program, COUNT(*) AS people FROM k GROUP BY program").df()
    pairs = con.sql(f"""
WITH k AS ({keys})
SELECT a.program AS program_a, b.program AS program_b, COUNT(*) AS both_count
FROM k AS a
JOIN k AS b ON b.person_key = a.person_key AND a.program < b.program
GROUP BY a.program, b.program""").df()
    size = {r.program: int(r.people) for r in sizes.itertuples()}
    both = {frozenset((r.program_a, r.program_b)): int(r.both_count) for r in pairs.itertuples()}
    rows = []
    for i, a in enumerate(progs):
        for b in progs[i + 1:]:
            rows.append({"program_a": a, "program_b": b, "people_a": size.get(a, 0), "people_b": size.get(b, 0),
                         "both": both.get(frozenset((a, b)), 0)})
    return pd.DataFrame(rows, columns=["program_a", "program_b", "people_a", "people_b", "both"]).astype(
        {"people_a": "int64", "people_b": "int64", "both": "int64"}
    )


def programs_per_person(
    con,
    *,
    year: int,
    quarter: int,
    definition: str = "ever",
    programs: Iterable[str] = PROGRAMS,
    key: str = "ssn",
    ssn_rule: str = "usable",
    max_units: int = 3,
) -> pd.DataFrame:
    """People by the combination of programs they were on in the quarter.

    Parameters are as for :func:`coenrollment` (``key="person"`` is an instructor and test tool).

    Returns
    -------
    pandas.DataFrame
        ``combination`` (program names joined by ``" + "``, in :data:`PROGRAMS` order),
        ``n_programs`` and ``people``, sorted by ``n_programs`` then ``people`` (descending).
    """
    progs = _check_programs(programs)
    _check_key_rule(key, ssn_rule)
    keys = _keys_sql(key, ssn_rule, year, quarter, definition, progs, max_units)
    flags = ", ".join(
        f"MAX(CASE WHEN program = '{p}' THEN 1 ELSE 0 END) AS on_{p.lower()}" for p in progs
    )
    sql = f"WITH k AS ({keys}) SELECT person_key, {flags} FROM k GROUP BY person_key"
    wide = con.sql(sql).df()
    cols = [f"on_{p.lower()}" for p in progs]
    if wide.empty:
        return pd.DataFrame({"combination": pd.Series(dtype="str"), "n_programs": pd.Series(dtype="int64"),
                             "people": pd.Series(dtype="int64")})
    on = wide[cols].astype(bool)
    names = pd.Series([" + ".join(p for p, flag in zip(progs, row) if flag) for row in on.itertuples(index=False)],
                      index=wide.index)
    table = (
        pd.DataFrame({"combination": names, "n_programs": wide[cols].sum(axis=1).astype("int64")})
        .groupby(["combination", "n_programs"], as_index=False)
        .size()
        .rename(columns={"size": "people"})
        .sort_values(["n_programs", "people", "combination"], ascending=[True, False, True], ignore_index=True)
    )
    table["people"] = table["people"].astype("int64")
    return table


# ------------------------------------------------------------------------------------ WIOA exiters
def exiters_sql(*, first_year: int, last_year: int, max_units: int = 3) -> str:
    """SQL for WIOA exiters in calendar years ``first_year``-``last_year`` and their outcomes.

    One row per period of participation: repeated extract rows are collapsed by
    (``unique_individual_id``, ``entry_date``, ``exit_date``), keeping a row with an SSN where there is one,
    then the lowest ``record_id``. Employment is measured as in the WIOA primary indicators: any UI-covered
    wages, in any of the region's state wage files, in the 2nd (and 4th) quarter after the exit quarter,
    linked by SSN. Exiters without a usable SSN cannot be linked: their outcomes are NULL (unknown).
    """
    _check_int("first_year", first_year, 1900, 2100)
    _check_int("last_year", last_year, first_year, 2100)
    _check_int("max_units", max_units, 1, 1_000_000)
    start, end = _dt.date(first_year, 1, 1), _dt.date(last_year, 12, 31)
    age = _age_sql("dob", "exit_date")
    return f"""WITH periods AS (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY unique_individual_id, entry_date, exit_date
                                ORDER BY CASE WHEN ssn IS NULL THEN 1 ELSE 0 END, record_id) AS pick
    FROM wioa
    WHERE exit_date BETWEEN {_date(start)} AND {_date(end)}
),
exits AS (
    SELECT unique_individual_id, record_id, ssn, state_fips, county_fips, program, sex, race_ethnicity,
           received_training, entry_date, exit_date, {age} AS age,
           CAST(EXTRACT(YEAR FROM exit_date) AS INTEGER) AS exit_year,
           CAST(EXTRACT(YEAR FROM exit_date) AS INTEGER) * 4 + CAST(EXTRACT(QUARTER FROM exit_date) AS INTEGER) - 1
               AS exit_qindex
    FROM periods WHERE pick = 1
),
ssn_use AS (
    SELECT ssn, COUNT(DISTINCT unique_individual_id) AS n FROM exits WHERE ssn IS NOT NULL GROUP BY ssn
),
linked AS (
    SELECT e.*,
           CASE WHEN e.ssn IS NULL THEN 'missing'
                WHEN e.ssn IN ({_placeholder_list()}) THEN 'placeholder'
                WHEN u.n > {max_units} THEN 'shared'
                ELSE 'usable' END AS ssn_status
    FROM exits AS e LEFT JOIN ssn_use AS u ON u.ssn = e.ssn
),
wages AS (
    SELECT w.ssn, w.year * 4 + w.quarter - 1 AS qindex, SUM(w.wages) AS wages
    FROM ui_wage AS w
    WHERE w.ssn IN (SELECT ssn FROM linked WHERE ssn_status = 'usable')
    GROUP BY w.ssn, w.year * 4 + w.quarter - 1
)
SELECT l.unique_individual_id, l.record_id, l.state_fips, l.county_fips, l.program, l.sex,
       l.race_ethnicity, {_age_group_sql('l.age')} AS age_group, l.received_training,
       l.entry_date, l.exit_date, l.exit_year, l.exit_qindex, l.ssn_status,
       CASE WHEN l.ssn_status = 'usable' THEN TRUE ELSE FALSE END AS linked,
       CASE WHEN l.ssn_status <> 'usable' THEN NULL
            WHEN COALESCE(w2.wages, 0) > 0 THEN TRUE ELSE FALSE END AS employed_q2,
       CASE WHEN l.ssn_status <> 'usable' THEN NULL
            WHEN COALESCE(w4.wages, 0) > 0 THEN TRUE ELSE FALSE END AS employed_q4,
       CASE WHEN l.ssn_status = 'usable' THEN COALESCE(w2.wages, 0) END AS earnings_q2
FROM linked AS l
LEFT JOIN wages AS w2 ON w2.ssn = l.ssn AND w2.qindex = l.exit_qindex + 2 AND l.ssn_status = 'usable'
LEFT JOIN wages AS w4 ON w4.ssn = l.ssn AND w4.qindex = l.exit_qindex + 4 AND l.ssn_status = 'usable'
ORDER BY l.unique_individual_id, l.entry_date"""


def exiters(con, *, first_year: int, last_year: int, max_units: int = 3) -> pd.DataFrame:
    """WIOA exiters in ``first_year``-``last_year``, one row per period, with their outcomes.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    first_year, last_year : int
        Calendar years of exit, inclusive. Leave four quarters of wage records after ``last_year``.
    max_units : int
        An SSN on more than this many exiters is treated as shared (not usable).

    Returns
    -------
    pandas.DataFrame
        ``unique_individual_id, record_id, state_fips, county_fips, program, sex, race_ethnicity,
        age_group, received_training, entry_date, exit_date, exit_year, exit_qindex, ssn_status, linked,
        employed_q2, employed_q4, earnings_q2``. Outcomes are missing (unknown) for exiters without a
        usable SSN; ``earnings_q2`` is 0 for linked exiters without wages.
    """
    return con.sql(exiters_sql(first_year=first_year, last_year=last_year, max_units=max_units)).df()


_EXIT_BY = ("state_fips", "county_fips", "program", "sex", "race_ethnicity", "age_group", "received_training",
            "exit_year")


def exit_outcome_rates(
    con, *, first_year: int, last_year: int, by: Iterable[str] = ("state_fips",), max_units: int = 3
) -> pd.DataFrame:
    """Employment rates of WIOA exiters in the 2nd and 4th quarter after exit, by ``by``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    first_year, last_year : int
        Calendar years of exit, inclusive.
    by : iterable of str
        Any of ``state_fips, county_fips, program, sex, race_ethnicity, age_group, received_training,
        exit_year``; empty for the whole region.
    max_units : int

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``exiters`` (all), ``linked`` (with a usable SSN: the denominator),
        ``employed_q2``, ``employed_q4`` (counts), ``rate_q2``, ``rate_q4`` (shares of ``linked``; NaN
        when none are linked) and ``median_earnings_q2`` (among those employed in the 2nd quarter; an
        exact median: not for release before disclosure review, module 12).
    """
    cols = _check_by(by, _EXIT_BY)
    base = exiters_sql(first_year=first_year, last_year=last_year, max_units=max_units).replace(
        "\nORDER BY l.unique_individual_id, l.entry_date", ""
    )
    select = "".join(f"{c}, " for c in cols)
    group = f"GROUP BY {', '.join(cols)} ORDER BY {', '.join(cols)}" if cols else ""
    sql = f"""
SELECT {select}
       COUNT(*) AS exiters,
       SUM(CASE WHEN linked THEN 1 ELSE 0 END) AS linked,
       SUM(CASE WHEN employed_q2 THEN 1 ELSE 0 END) AS employed_q2,
       SUM(CASE WHEN employed_q4 THEN 1 ELSE 0 END) AS employed_q4,
       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY CASE WHEN employed_q2 THEN earnings_q2 END)
           AS median_earnings_q2
FROM ({base}) AS x
{group}"""
    out = con.sql(sql).df()
    for c in ("exiters", "linked", "employed_q2", "employed_q4"):
        out[c] = out[c].fillna(0).astype("int64")
    denom = out["linked"].where(out["linked"] > 0)
    out.insert(out.columns.get_loc("employed_q4") + 1, "rate_q2", out["employed_q2"] / denom)
    out.insert(out.columns.get_loc("rate_q2") + 1, "rate_q4", out["employed_q4"] / denom)
    out["median_earnings_q2"] = out["median_earnings_q2"].astype("float64")
    return out


def employment_by_relative_quarter(
    con,
    *,
    first_year: int,
    last_year: int,
    by: Iterable[str] = ("state_fips",),
    quarters: Iterable[int] = range(-4, 5),
    max_units: int = 3,
) -> pd.DataFrame:
    """Share of linked WIOA exiters with UI-covered wages in each quarter relative to the exit quarter.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    first_year, last_year : int
        Calendar years of exit, inclusive.
    by : iterable of str
        Grouping columns, as for :func:`exit_outcome_rates`.
    quarters : iterable of int
        Relative quarters (0 = the exit quarter).
    max_units : int

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``relative_quarter``, ``linked``, ``employed`` and ``rate``.
    """
    cols = _check_by(by, _EXIT_BY)
    rel = sorted({_check_int("quarter", int(q), -40, 40) for q in quarters})
    if not rel:
        raise ValueError(f"quarters must name at least one relative quarter, got {quarters!r}")
    base = exiters_sql(first_year=first_year, last_year=last_year, max_units=max_units)
    # the exiters query ends with its SELECT; reuse its CTEs to get each linked exiter's SSN
    ctes, _, _ = base.partition("\nSELECT l.unique_individual_id")
    values = " UNION ALL ".join(f"SELECT {q} AS rel" for q in rel)
    select = "".join(f"l.{c}, " for c in cols)
    group = ", ".join([f"l.{c}" for c in cols] + ["r.rel"])
    order = ", ".join(list(cols) + ["relative_quarter"])
    age_group = _age_group_sql("l.age")
    sql = f"""{ctes},
grouped AS (SELECT l.*, {age_group} AS age_group FROM linked AS l WHERE l.ssn_status = 'usable')
SELECT {select}r.rel AS relative_quarter,
       COUNT(*) AS linked,
       SUM(CASE WHEN COALESCE(w.wages, 0) > 0 THEN 1 ELSE 0 END) AS employed
FROM grouped AS l
CROSS JOIN ({values}) AS r
LEFT JOIN wages AS w ON w.ssn = l.ssn AND w.qindex = l.exit_qindex + r.rel
GROUP BY {group}
ORDER BY {order}"""
    out = con.sql(sql).df()
    for c in ("linked", "employed"):
        out[c] = out[c].astype("int64")
    out["relative_quarter"] = out["relative_quarter"].astype("int64")
    out["rate"] = out["employed"] / out["linked"]
    return out
