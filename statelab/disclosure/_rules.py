"""Disclosure thresholds (:class:`Rules`) and the rounding, percentage and fuzzy-percentile rules."""

from __future__ import annotations

import dataclasses
import math
import numbers
import tomllib
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DisclosureError",
    "Rules",
    "FUZZY_PERCENTILES",
    "round_count",
    "round_wage",
    "round_average",
    "safe_percent",
    "fuzzy_percentiles",
    "fuzzy_summary",
    "safe_histogram",
]


class DisclosureError(ValueError):
    """A table or statistic breaks a disclosure rule (and so must not leave the enclave)."""


# ------------------------------------------------------------------------------------------- rules
@dataclasses.dataclass(frozen=True, kw_only=True)
class Rules:
    """The thresholds a secure enclave applies before any output is exported.

    The defaults are the rules described in the course's data reference. Change one with
    :meth:`replace` (``Rules().replace(min_cell_size=11)``) or load a set from a mapping or a TOML file
    (:meth:`from_dict`, :meth:`from_toml`).

    Parameters
    ----------
    min_cell_size : int
        Fewest individuals a published cell may describe (10, the course's value; notebooks read it from here).
    min_employers : int
        Fewest employers behind a cell built from employer data (3; some states require 10).
    max_employer_share : float
        Largest share (0-1) of a cell's total that one employer may contribute: the dominance rule (0.8).
    count_unit_small, count_unit_large, count_large_from : int
        Counts below ``count_large_from`` (1,000) are rounded to ``count_unit_small`` (10); counts at or
        above it to ``count_unit_large`` (100).
    wage_unit : int
        Dollar amounts (wages, earnings) are rounded to this unit (100).
    average_decimals : int
        Decimals kept for averages (1, i.e. to 0.1).
    percent_decimals : int
        Decimals kept for percentages (1).
    fuzzy_unit : int
        Fuzzy percentiles are rounded to this unit (100).
    """

    min_cell_size: int = 10
    min_employers: int = 3
    max_employer_share: float = 0.80
    count_unit_small: int = 10
    count_unit_large: int = 100
    count_large_from: int = 1000
    wage_unit: int = 100
    average_decimals: int = 1
    percent_decimals: int = 1
    fuzzy_unit: int = 100

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "max_employer_share":
                if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
                    raise ValueError(f"max_employer_share must be a share in (0, 1], got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{field.name} must be a whole number, got {value!r}")
            least = 0 if field.name.endswith("_decimals") else 1
            if value < least:
                raise ValueError(f"{field.name} must be at least {least}, got {value!r}")

    @classmethod
    def from_dict(cls, mapping: Mapping) -> Rules:
        """Rules from a mapping of threshold names to values; names not given keep their defaults.

        Raises
        ------
        ValueError
            If the mapping names a threshold that does not exist.
        """
        if not isinstance(mapping, Mapping):
            raise TypeError(f"from_dict needs a mapping of threshold names to values, got {type(mapping).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(f"unknown disclosure threshold(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(mapping))

    @classmethod
    def from_toml(cls, source: str | Path, *, table: str = "disclosure") -> Rules:
        """Rules from TOML: a file path or TOML text, reading the ``[disclosure]`` table if present.

        Examples
        --------
        >>> Rules.from_toml('[disclosure]\\nmin_cell_size = 11').min_cell_size
        11
        """
        if isinstance(source, Path) or (isinstance(source, str) and "=" not in source and "\n" not in source):
            text = Path(source).read_text(encoding="utf-8")
        elif isinstance(source, str):
            text = source
        else:
            raise TypeError(f"from_toml needs a path or TOML text, got {type(source).__name__}")
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"could not read disclosure rules from TOML: {err}") from err
        return cls.from_dict(doc.get(table, doc))

    def to_dict(self) -> dict:
        """The thresholds as a plain dict (the inverse of :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> Rules:
        """A copy with some thresholds changed, e.g. ``rules.replace(min_cell_size=11)``."""
        return self.from_dict(self.to_dict() | changes)


def _rules(rules) -> Rules:
    if rules is None:
        return Rules()
    if not isinstance(rules, Rules):
        raise TypeError(f"rules must be a statelab.disclosure.Rules, got {type(rules).__name__}")
    return rules


# ----------------------------------------------------------------------------------------- rounding
def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _decimal(value, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, got {value!r}")
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    if not math.isfinite(float(value)):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return Decimal(repr(float(value)))


def _half_up(value: Decimal, unit: Decimal) -> Decimal:
    """Round to a multiple of ``unit``, halves away from zero (995 -> 1000, not banker's 990/1000)."""
    return (value / unit).quantize(Decimal(1), rounding=ROUND_HALF_UP) * unit


def _elementwise(value, scalar_fn, dtype: str):
    """Apply ``scalar_fn`` to a scalar, or to each element of a Series / array / list (missing stays missing)."""
    if isinstance(value, pd.Series):
        out = [pd.NA if _is_missing(v) else scalar_fn(v) for v in value.tolist()]
        return pd.Series(out, index=value.index, name=value.name, dtype=dtype)
    if isinstance(value, pd.DataFrame):
        raise TypeError("pass one column (a Series) or a scalar, not a whole DataFrame")
    if isinstance(value, (np.ndarray, list, tuple)):
        arr = np.asarray(value, dtype=object)
        flat = [np.nan if _is_missing(v) else scalar_fn(v) for v in arr.ravel().tolist()]
        return np.asarray(flat, dtype=float).reshape(arr.shape)
    if isinstance(value, np.generic):
        value = value.item()
    if _is_missing(value):
        raise ValueError(f"cannot round a missing value ({value!r}); suppressed cells stay missing in a Series")
    return scalar_fn(value)


def round_count(value, *, rules: Rules | None = None):
    """Round a count of individuals for release.

    Counts below 1,000 go to the nearest 10, counts of 1,000 or more to the nearest 100 (thresholds from
    ``rules``); halves round up (5 -> 10, 995 -> 1000, 1050 -> 1100). Rounding does not replace
    suppression: apply :func:`suppress` (or the minimum cell size) to the *unrounded* counts first.

    Parameters
    ----------
    value : int, float, Series or array-like
        Non-negative count(s). Missing values in a Series or array (suppressed cells) stay missing.
    rules : Rules, optional
        Thresholds; the defaults when omitted.

    Returns
    -------
    int, Series (``Int64``) or ndarray
        The rounded count(s), matching the input's shape.

    Raises
    ------
    ValueError
        For a negative, infinite or (scalar) missing value, quoting it.
    """
    r = _rules(rules)
    small, large, cut = Decimal(r.count_unit_small), Decimal(r.count_unit_large), Decimal(r.count_large_from)

    def one(v):
        d = _decimal(v, "a count")
        if d < 0:
            raise ValueError(f"count {v!r} is negative: a count of individuals cannot be below 0")
        return int(_half_up(d, large if d >= cut else small))

    return _elementwise(value, one, "Int64")


def round_wage(value, *, rules: Rules | None = None):
    """Round a dollar amount (wages, earnings) to the nearest 100 (``rules.wage_unit``), halves up.

    Scalars give an ``int``; a Series gives ``Int64`` with missing values kept. Negative amounts (for
    example a change in earnings) are allowed and rounded symmetrically.
    """
    unit = Decimal(_rules(rules).wage_unit)
    return _elementwise(value, lambda v: int(_half_up(_decimal(v, "a dollar amount"), unit)), "Int64")


def round_average(value, *, rules: Rules | None = None):
    """Round an average (a mean of counts, weeks, ...) to 0.1 (``rules.average_decimals``), halves up."""
    unit = Decimal(1).scaleb(-_rules(rules).average_decimals)
    return _elementwise(value, lambda v: float(_half_up(_decimal(v, "an average"), unit)), "Float64")


# --------------------------------------------------------------------------------------- percentages
def safe_percent(numerator, denominator, *, rules: Rules | None = None, extreme: str = "suppress"):
    """A percentage fit for release, computed from the *rounded* numerator and denominator.

    Steps: suppress when the (unrounded) numerator or denominator is below ``rules.min_cell_size``;
    round both with :func:`round_count`; take ``100 * numerator / denominator`` to
    ``rules.percent_decimals`` decimals (halves up); never show 0 % or 100 %.

    Parameters
    ----------
    numerator, denominator : number, Series or array-like
        *Unrounded* counts, e.g. leavers employed and all leavers (passing rounded ones defeats the
        minimum-size check). Series are aligned on their index.
    rules : Rules, optional
        Thresholds; the defaults when omitted.
    extreme : {"suppress", "raise"}
        What to do when the rounded percentage would show as 0 or 100: return a missing value
        (``"suppress"``) or raise :class:`DisclosureError`.

    Returns
    -------
    float or Series (``Float64``)
        The percentage, or missing (``nan`` / ``<NA>``) where it must be suppressed.

    Raises
    ------
    ValueError
        If a numerator exceeds its denominator or a count is negative (the value is quoted).

    Examples
    --------
    >>> safe_percent(47, 213)   # 50 / 210, not 47 / 213 = 22.1 %
    23.8
    """
    r = _rules(rules)
    if extreme not in ("suppress", "raise"):
        raise ValueError(f"extreme must be 'suppress' or 'raise', got {extreme!r}")
    places = Decimal(1).scaleb(-r.percent_decimals)

    def one(num, den):
        if _is_missing(num) or _is_missing(den):
            return None
        n, d = _decimal(num, "a numerator"), _decimal(den, "a denominator")
        if n < 0 or d < 0:
            raise ValueError(f"counts must not be negative, got numerator {num!r} and denominator {den!r}")
        if n > d:
            raise ValueError(f"numerator {num!r} is larger than denominator {den!r}")
        if n < r.min_cell_size or d < r.min_cell_size:
            return None
        rn, rd = round_count(num, rules=r), round_count(den, rules=r)
        pct = _half_up(Decimal(rn) * 100 / Decimal(rd), places)
        if pct <= 0 or pct >= 100:
            if extreme == "raise":
                raise DisclosureError(
                    f"{num!r} of {den!r} rounds to {rn} of {rd} = {pct}%: a percentage may never be shown "
                    "as 0% or 100%"
                )
            return None
        return float(pct)

    if isinstance(numerator, pd.Series) or isinstance(denominator, pd.Series):
        num = numerator if isinstance(numerator, pd.Series) else pd.Series(numerator, index=denominator.index)
        den = denominator if isinstance(denominator, pd.Series) else pd.Series(denominator, index=num.index)
        num, den = num.align(den)
        out = [one(a, b) for a, b in zip(num.tolist(), den.tolist())]
        return pd.Series([pd.NA if v is None else v for v in out], index=num.index, name=num.name, dtype="Float64")
    if isinstance(numerator, (np.ndarray, list, tuple)) or isinstance(denominator, (np.ndarray, list, tuple)):
        a, b = np.broadcast_arrays(np.asarray(numerator, dtype=object), np.asarray(denominator, dtype=object))
        out = [one(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist())]
        return np.asarray([np.nan if v is None else v for v in out], dtype=float).reshape(a.shape)
    num = numerator.item() if isinstance(numerator, np.generic) else numerator
    den = denominator.item() if isinstance(denominator, np.generic) else denominator
    value = one(num, den)
    return float("nan") if value is None else value


# ------------------------------------------------------------------------------- fuzzy percentiles
#: Each fuzzy statistic is the mean of two neighboring percentiles of the data.
FUZZY_PERCENTILES: dict[str, tuple[float, float]] = {
    "min": (0.0, 5.0),
    "q1": (20.0, 30.0),
    "median": (45.0, 55.0),
    "q3": (70.0, 80.0),
    "max": (95.0, 100.0),
}


def _values(values, what: str) -> np.ndarray:
    """Numbers from a sequence/Series/array, missing values dropped; anything non-numeric is an error."""
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what} must be a sequence of numbers, got {type(values).__name__}")
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    numbers_ = pd.to_numeric(series, errors="coerce")
    bad = series[numbers_.isna() & series.notna()]
    if len(bad):
        raise TypeError(f"{what} must be numbers, got {bad.iloc[0]!r}")
    return numbers_.dropna().to_numpy(dtype=float)


def fuzzy_percentiles(
    values,
    *,
    stats: Sequence[str] = ("min", "q1", "median", "q3", "max"),
    rules: Rules | None = None,
    top_code: float | None = None,
) -> pd.Series:
    """Fuzzy box-plot statistics in place of exact medians, quartiles, minima and maxima.

    Each statistic is the mean of two neighboring percentiles (:data:`FUZZY_PERCENTILES`: the fuzzy
    median averages the 45th and 55th, Q1 the 20th and 30th, Q3 the 70th and 80th, the minimum the 0th
    and 5th, the maximum the 95th and 100th), rounded to ``rules.fuzzy_unit`` (100). Percentiles use
    linear interpolation, like SQL's ``percentile_cont``.

    Parameters
    ----------
    values : sequence of numbers
        The individual values (missing values are dropped). There must be at least
        ``rules.min_cell_size`` of them.
    stats : sequence of str
        Which statistics, in order; any of ``"min", "q1", "median", "q3", "max"``.
    rules : Rules, optional
        Thresholds; the defaults when omitted.
    top_code : float, optional
        A cap: statistics above it are replaced by the cap, and their names are listed in
        ``result.attrs["top_coded"]`` so a table can show them as, e.g., "100,000+".

    Returns
    -------
    Series
        One float per statistic, indexed by name.

    Raises
    ------
    DisclosureError
        If there are fewer values than the minimum cell size.
    """
    r = _rules(rules)
    if isinstance(stats, str):
        stats = [stats]
    unknown = [s for s in stats if s not in FUZZY_PERCENTILES]
    if unknown:
        raise ValueError(f"unknown fuzzy statistic {unknown[0]!r}; choose from {list(FUZZY_PERCENTILES)}")
    arr = _values(values, "values")
    if len(arr) < r.min_cell_size:
        raise DisclosureError(
            f"only {len(arr)} values: a statistic needs at least {r.min_cell_size} individuals behind it"
        )
    unit = Decimal(r.fuzzy_unit)
    out, capped = {}, []
    for name in stats:
        lo, hi = np.percentile(arr, FUZZY_PERCENTILES[name])
        value = float(_half_up(_decimal((lo + hi) / 2, name), unit))
        if top_code is not None and value > top_code:
            value = float(top_code)
            capped.append(name)
        out[name] = value
    result = pd.Series(out, dtype=float, name="fuzzy")
    result.attrs["top_coded"] = capped
    return result


def fuzzy_summary(
    frame: pd.DataFrame,
    *,
    by: str | Sequence[str],
    value: str,
    stats: Sequence[str] = ("median",),
    rules: Rules | None = None,
    count_name: str = "n",
) -> pd.DataFrame:
    """Per-group rounded counts and fuzzy statistics, with small groups suppressed.

    Parameters
    ----------
    frame : DataFrame
        One row per individual.
    by : str or sequence of str
        Grouping column(s).
    value : str
        The column to summarize (e.g. quarterly earnings).
    stats : sequence of str
        Fuzzy statistics to compute (see :func:`fuzzy_percentiles`); columns are named ``fuzzy_<stat>``.
    rules : Rules, optional
        Thresholds; the defaults when omitted.
    count_name : str
        Name of the (rounded) count column.

    Returns
    -------
    DataFrame
        One row per group: the group columns, the rounded count and the fuzzy statistics; a group with
        fewer than ``rules.min_cell_size`` individuals has every number missing (suppressed).
    """
    r = _rules(rules)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a DataFrame, got {type(frame).__name__}")
    keys = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*keys, value] if c not in frame.columns]
    if missing:
        raise ValueError(f"column {missing[0]!r} is not in the frame (columns: {list(frame.columns)})")
    if isinstance(stats, str):
        stats = [stats]
    rows = []
    for key, group in frame.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        vals = group[value].dropna()
        row = dict(zip(keys, key))
        if len(vals) < r.min_cell_size:
            row[count_name] = pd.NA
            row |= {f"fuzzy_{s}": pd.NA for s in stats}
        else:
            row[count_name] = round_count(len(vals), rules=r)
            row |= {f"fuzzy_{s}": v for s, v in fuzzy_percentiles(vals, stats=stats, rules=r).items()}
        rows.append(row)
    out = pd.DataFrame(rows, columns=[*keys, count_name, *(f"fuzzy_{s}" for s in stats)])
    out[count_name] = out[count_name].astype("Int64")
    for s in stats:
        out[f"fuzzy_{s}"] = out[f"fuzzy_{s}"].astype("Float64")
    return out


# --------------------------------------------------------------------------------------- histograms
def safe_histogram(values, *, edges: Sequence[float], rules: Rules | None = None) -> pd.DataFrame:
    """Histogram counts whose every bin holds at least the minimum cell size.

    Values are counted in the bins given by ``edges``; the first and last bins are open-ended (values
    below the first edge or at/above the last are counted there), so the data's exact minimum and maximum
    are never shown. Adjacent bins are then merged, left to right, until each holds at least
    ``rules.min_cell_size`` values; a small remainder at the top joins the bin before it. Counts are
    rounded with :func:`round_count`.

    Parameters
    ----------
    values : sequence of numbers
        The individual values.
    edges : sequence of float
        Increasing bin edges chosen by the analyst (never the data's own minimum and maximum).
    rules : Rules, optional
        Thresholds; the defaults when omitted.

    Returns
    -------
    DataFrame
        Columns ``left``, ``right`` (``-inf``/``inf`` for the open-ended bins), ``label`` and ``count``
        (rounded).

    Raises
    ------
    DisclosureError
        If there are fewer values in total than the minimum cell size.
    """
    r = _rules(rules)
    if isinstance(edges, (numbers.Number, str)):
        raise TypeError(
            f"edges must be a sequence of bin edges you choose, got {edges!r}: a number of bins would "
            "place the outer edges at the data's exact minimum and maximum"
        )
    cuts = np.asarray(list(edges), dtype=float)
    if cuts.ndim != 1 or len(cuts) < 2 or not np.all(np.diff(cuts) > 0):
        raise ValueError(f"edges must be at least two strictly increasing numbers, got {list(edges)!r}")
    arr = _values(values, "values")
    if len(arr) < r.min_cell_size:
        raise DisclosureError(f"only {len(arr)} values: a histogram needs at least {r.min_cell_size}")
    bounds = np.concatenate([[-np.inf], cuts[1:-1], [np.inf]])
    counts = np.bincount(np.searchsorted(cuts[1:-1], arr, side="right"), minlength=len(cuts) - 1)
    merged: list[list] = []  # [left, right, count]
    current = None
    for left, right, n in zip(bounds[:-1], bounds[1:], counts):
        current = [left, right, int(n)] if current is None else [current[0], right, current[2] + int(n)]
        if current[2] >= r.min_cell_size:
            merged.append(current)
            current = None
    if current is not None:  # remainder at the top: join the last full bin
        merged[-1] = [merged[-1][0], current[1], merged[-1][2] + current[2]]
    rows = []
    for left, right, n in merged:
        if np.isinf(left):
            label = f"under {right:,.0f}"
        elif np.isinf(right):
            label = f"{left:,.0f} and over"
        else:
            label = f"{left:,.0f} to under {right:,.0f}"
        rows.append({"left": left, "right": right, "label": label, "count": round_count(n, rules=r)})
    out = pd.DataFrame(rows)
    out["count"] = out["count"].astype("Int64")
    return out
