"""Cross-sectional tables: who was on a program in a period.

Module 4 asks who received TANF, SNAP or UI benefits (or took part in WIOA) in one quarter, and how
many people were on more than one program. (The outcomes of WIOA exiters, which module 11 charts, are in
:mod:`statelab.outcomes`.) The functions here build those tables with SQL on the caller's DuckDB connection (portable SQL: no
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
WIOA *participant*); people are counted by *usable* SSN (:func:`statelab.identifiers.key_status_sql`). An
SSN is not usable when it is missing, malformed, a known placeholder (:data:`PLACEHOLDER_SSNS`), or
*shared*: recorded on more than ``max_units`` units of one program in the period, which one person cannot
plausibly be.

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

from .identifiers import PLACEHOLDER_SSNS, key_status_sql  # PLACEHOLDER_SSNS re-exported: notebooks use it

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
           c.race_ethnicity, 1 AS pick
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
    return _recipients_select(year, quarter, definition, programs, max_units) + "\nORDER BY r.program, r.unit_id"


def _recipients_select(year, quarter, definition, programs, max_units) -> str:
    """The recipients query without its ORDER BY, to be used as a subquery."""
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
    {key_status_sql('r.ssn', shared=f'u.units_with_ssn > {max_units}')} AS ssn_status,
    r.state_fips, r.county_fips, r.sex, r.dob,
    {age} AS age,
    {_age_group_sql(age)} AS age_group,
    r.race_ethnicity
FROM one_row AS r
LEFT JOIN ssn_use AS u ON u.program = r.program AND u.ssn = r.ssn"""


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
        ``ssn_status`` is one of :data:`statelab.identifiers.KEY_STATUSES` (``usable``, ``missing``,
        ``malformed``, ``placeholder`` or ``shared``); ``race_ethnicity`` is
        recorded in WIOA and on UI claims (asked at filing, may be blank), not in TANF or SNAP.
    """
    sql = recipients_sql(year=year, quarter=quarter, definition=definition, programs=programs, max_units=max_units)
    return con.sql(sql).df()


def _from_recipients(year, quarter, definition, programs, max_units) -> str:
    return "(" + _recipients_select(year, quarter, definition, programs, max_units) + ") AS rec"


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
