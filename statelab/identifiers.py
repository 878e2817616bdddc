"""Social Security numbers: the course's one definition of a placeholder, of a valid SSN and of a clean one.

Every helper, notebook and hidden test takes these rules from here (``linkage``, ``measures``,
``snapshot``, ``outcomes``, ``inference`` and the Data Labs profiler import them; they do not restate
them). In a notebook::

    from statelab import identifiers

    con.sql(f"SELECT {identifiers.ssn_status_sql('ssn')} AS status, COUNT(*) FROM ui_wage GROUP BY ALL")
    identifiers.clean_ssn(frame["ssn"])        # nine digits where valid, <NA> otherwise

The status of one SSN value
---------------------------
One vocabulary, :data:`SSN_STATUSES`, checked in this order:

``missing``
    NULL, or nothing left once spaces and dashes are removed.
``placeholder``
    One of :data:`PLACEHOLDER_SSNS` once spaces and dashes are removed: the values keyed when the real
    number was unknown (``000000000`` is a placeholder, though its group is also ``00``).
``malformed``
    Not exactly nine ASCII digits once spaces and dashes are removed, or a group number (digits 4-5) of
    ``00`` or a serial number (digits 6-9) of ``0000``: the Social Security Administration never issues
    either, so such a value is a keying error, not a person's number.
``never_issued``
    Only with ``reject_never_issued=True``: an area number (digits 1-3) the SSA has never issued,
    :data:`NEVER_ISSUED_AREAS` (000, 666 and 900-999).
``valid``
    Everything else.

Why never-issued areas are valid in this course
-----------------------------------------------
On real files, a number from area 000, 666 or 900-999 cannot belong to anyone and is invalid: switch
``reject_never_issued=True`` on there. The course's synthetic people are given SSNs *only* from those
never-issued ranges, on purpose, so that no real person's number can ever appear in the data; treating
them as invalid would discard every record. So the course's rule (the default) checks the form, the group
and serial numbers and the placeholder list, and teaches the never-issued check as the real-data option.

Whether an SSN can key a person
-------------------------------
A *valid* value can still fail to identify one person in a file: repeated rows of one unit may disagree
on it (``conflicting``), or it may be recorded on more units than one person plausibly has (``shared``).
:func:`key_status_sql` extends the value status with those two and calls what is left ``usable``
(:data:`KEY_STATUSES`). Program snapshots, WIOA exit cohorts and the training-effect frame use it.

The SQL is portable (``REPLACE``, ``TRANSLATE``, ``SUBSTRING ... FROM ... FOR``, ``CASE``): it runs on
DuckDB and PostgreSQL. The pandas functions give the same answer as the SQL on every string
(``tests/statelab/test_identifiers.py`` checks this on generated strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PLACEHOLDER_SSNS",
    "NEVER_ISSUED_AREAS",
    "SSN_STATUSES",
    "KEY_STATUSES",
    "ssn_status_sql",
    "clean_ssn_sql",
    "key_status_sql",
    "placeholders_sql",
    "ssn_status",
    "clean_ssn",
]

#: Values keyed when the real number was unknown: every repeated-digit string, the ascending and
#: descending runs, and ``999999998``. None of them is treated as a person's SSN. (Real files also hold
#: numbers from never-issued areas; see the module notes for why those are not placeholders here.)
PLACEHOLDER_SSNS: tuple[str, ...] = tuple(sorted(
    {d * 9 for d in "0123456789"} | {"123456789", "987654321", "999999998", "012345678"}
))

#: Area numbers (the first three digits) the Social Security Administration has never issued.
NEVER_ISSUED_AREAS: tuple[str, ...] = ("000", "666") + tuple(str(a) for a in range(900, 1000))

#: The status of one SSN value, in order of precedence (``never_issued`` only on request).
SSN_STATUSES: tuple[str, ...] = ("missing", "placeholder", "malformed", "never_issued", "valid")

#: Whether a unit's SSN can key a person: a value status other than ``valid``, then ``conflicting``,
#: ``shared`` or ``usable``.
KEY_STATUSES: tuple[str, ...] = ("missing", "placeholder", "malformed", "never_issued", "conflicting", "shared",
                                 "usable")

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_NINE_DIGITS = re.compile(r"[0-9]{9}")


def _check_column(column: Any) -> str:
    if not isinstance(column, str) or not _COLUMN.match(column):
        raise ValueError(f"column must be a column name such as 'ssn' or 'w.ssn', got {column!r}")
    return column


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def placeholders_sql() -> str:
    """The placeholder list as the inside of an SQL ``IN (...)``: ``'000000000', '111111111', ...``."""
    return ", ".join(f"'{p}'" for p in PLACEHOLDER_SSNS)


# ------------------------------------------------------------------------------------------- SQL
def _digits_sql(column: str) -> str:
    return f"REPLACE(REPLACE({column}, '-', ''), ' ', '')"


def ssn_status_sql(column: str, *, reject_never_issued: bool = False) -> str:
    """A portable SQL ``CASE`` expression giving the :data:`SSN_STATUSES` value of the SSN in ``column``.

    Parameters
    ----------
    column : str
        Column name, optionally qualified (``w.ssn``).
    reject_never_issued : bool, keyword-only
        Also return ``'never_issued'`` for areas 000, 666 and 900-999 (for real data; every synthetic SSN
        comes from those areas, so the course leaves it off).

    Returns
    -------
    str

    Examples
    --------
    >>> ssn_status_sql("ssn")[:40]
    "CASE WHEN ssn IS NULL OR REPLACE(REPLAC"
    """
    col = _check_column(column)
    _check_flag("reject_never_issued", reject_never_issued)
    d = _digits_sql(col)
    never = (f"WHEN SUBSTRING({d} FROM 1 FOR 3) IN ('000', '666') OR SUBSTRING({d} FROM 1 FOR 1) = '9' "
             "THEN 'never_issued' " if reject_never_issued else "")
    return (
        f"CASE WHEN {col} IS NULL OR {d} = '' THEN 'missing' "
        f"WHEN {d} IN ({placeholders_sql()}) THEN 'placeholder' "
        f"WHEN LENGTH({d}) <> 9 OR TRANSLATE({d}, '0123456789', '') <> '' "
        f"OR SUBSTRING({d} FROM 4 FOR 2) = '00' OR SUBSTRING({d} FROM 6 FOR 4) = '0000' THEN 'malformed' "
        f"{never}ELSE 'valid' END"
    )


def clean_ssn_sql(column: str, *, reject_never_issued: bool = False) -> str:
    """A portable SQL expression: the nine digits of the SSN in ``column`` when it is valid, else NULL.

    Spaces and dashes are removed, so ``'900-12-3456'`` becomes ``'900123456'``.
    """
    col = _check_column(column)
    status = ssn_status_sql(col, reject_never_issued=reject_never_issued)
    return f"CASE WHEN {status} = 'valid' THEN {_digits_sql(col)} END"


def key_status_sql(column: str, *, conflicting: str | None = None, shared: str | None = None,
                   reject_never_issued: bool = False) -> str:
    """A portable SQL ``CASE`` expression giving the :data:`KEY_STATUSES` value of a unit's SSN.

    The value status of ``column`` when it is not ``valid``; otherwise ``'conflicting'`` where the SQL
    condition ``conflicting`` holds, ``'shared'`` where ``shared`` holds, else ``'usable'``.

    Parameters
    ----------
    column : str
        The SSN column.
    conflicting, shared : str, optional, keyword-only
        SQL conditions over the query's columns, e.g. ``"s.n_distinct_ssn > 1"`` and ``"u.units > 3"``.
    reject_never_issued : bool, keyword-only
        As in :func:`ssn_status_sql`.
    """
    status = ssn_status_sql(column, reject_never_issued=reject_never_issued)
    whens = "".join(f"WHEN {cond} THEN '{name}' " for name, cond in (("conflicting", conflicting),
                                                                     ("shared", shared)) if cond)
    return f"CASE WHEN {status} <> 'valid' THEN {status} {whens}ELSE 'usable' END"


# ----------------------------------------------------------------------------------------- pandas
def _as_series(values: Iterable[Any]) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.astype(object)
    if isinstance(values, (str, bytes)):
        raise TypeError(f"values must be a list or Series of SSN strings, not one string: {values!r}")
    return pd.Series(list(values), dtype=object)


def _text(s: pd.Series) -> pd.Series:
    """``s``, after checking that every value is text or missing (a ``TypeError`` quotes the first other)."""
    missing = s.isna().to_numpy()
    wrong = [v for v, m in zip(s, missing) if not m and not isinstance(v, str)]
    if wrong:
        raise TypeError(f"SSNs must be strings (leading zeros matter), got {wrong[0]!r} "
                        f"of type {type(wrong[0]).__name__}")
    return s


def _by_value(s: pd.Series, reject_never_issued: bool) -> tuple[np.ndarray, np.ndarray]:
    """The status and the digits (spaces and dashes removed) of each value of ``s``, as object arrays.

    The rules run once per distinct value and are spread back to the rows: a wage file repeats a person's
    SSN on every quarter's record, so a column has far fewer distinct values than rows, and the string
    operations are what cost. Missing values get ``'missing'`` and ``''``.
    """
    missing = s.isna().to_numpy()
    status = np.full(len(s), "missing", dtype=object)
    digits = np.full(len(s), "", dtype=object)
    codes, values = pd.factorize(s.to_numpy(dtype=object)[~missing])
    if len(values):
        d = pd.Series(values, dtype=object).str.replace("-", "", regex=False).str.replace(" ", "", regex=False)
        empty = (d == "").to_numpy(dtype=bool)
        placeholder = ~empty & d.isin(PLACEHOLDER_SSNS).to_numpy()
        nine = d.map(lambda v: _NINE_DIGITS.fullmatch(v) is not None).to_numpy(dtype=bool)
        malformed = ~empty & ~placeholder & (~nine | (d.str[3:5] == "00").to_numpy()
                                             | (d.str[5:9] == "0000").to_numpy())
        never = np.zeros(len(d), dtype=bool)
        if reject_never_issued:
            never = ~empty & ~placeholder & ~malformed & d.str[:3].isin(NEVER_ISSUED_AREAS).to_numpy()
        found = np.select([empty, placeholder, malformed, never], ["missing", "placeholder", "malformed",
                                                                   "never_issued"], "valid").astype(object)
        status[~missing] = found[codes]
        digits[~missing] = d.to_numpy(dtype=object)[codes]
    return status, digits


def ssn_status(values: Iterable[Any], *, reject_never_issued: bool = False) -> pd.Series:
    """The :data:`SSN_STATUSES` value of each SSN string, with the rules of :func:`ssn_status_sql`.

    Parameters
    ----------
    values : Series or iterable of str
        SSNs as text (leading zeros matter); ``None``/``NaN``/``<NA>`` are missing.
    reject_never_issued : bool, keyword-only
        As in :func:`ssn_status_sql`.

    Returns
    -------
    pandas.Series
        String dtype, with the index of ``values`` when it is a Series.

    Raises
    ------
    TypeError
        For a value that is neither text nor missing (e.g. the number 900123456).
    """
    _check_flag("reject_never_issued", reject_never_issued)
    s = _as_series(values)
    status, _ = _by_value(_text(s), reject_never_issued)
    return pd.Series(status, index=s.index, dtype="string")


def clean_ssn(values: Iterable[Any], *, reject_never_issued: bool = False) -> pd.Series:
    """Nine-digit SSNs where valid, missing (``<NA>``) otherwise; the rules of :func:`clean_ssn_sql`."""
    s = _as_series(values)
    _check_flag("reject_never_issued", reject_never_issued)
    status, digits = _by_value(_text(s), reject_never_issued)
    valid = status == "valid"
    return pd.Series(digits, index=s.index, name=s.name, dtype=object).where(valid).astype("string")
