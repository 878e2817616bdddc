"""The disclosure checker: :func:`check_table` and its :class:`Report`."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._rules import (
    DisclosureError,
    Rules,
    _is_missing,
    _rules,
    round_average,
    round_count,
    round_wage,
    safe_percent,
)
from ._suppress import _determined

__all__ = ["RULE_TITLES", "Violation", "Report", "check_table"]

#: Every rule the checker knows, with a one-line title (the keys are the ``rule`` of a :class:`Violation`).
RULE_TITLES: dict[str, str] = {
    "min_cell_size": "Too few individuals in a cell",
    "min_employers": "Too few employers behind a cell",
    "dominance": "One employer dominates a cell",
    "count_rounding": "Count not rounded",
    "wage_rounding": "Dollar amount not rounded to the nearest 100",
    "average_rounding": "Average not rounded to 0.1",
    "percent_extreme": "Percentage shown as 0% or 100%",
    "percent_rounded_parts": "Percentage not computed from rounded, publishable parts",
    "exact_statistic": "Exact median, minimum or maximum",
    "complementary": "Suppressed cell can be recovered from the totals",
}

_EXACT_NAME = re.compile(r"(^|[^a-z])(median|min|max|minimum|maximum|p50|pctl50)([^a-z]|$)")


@dataclasses.dataclass(frozen=True)
class Violation:
    """One broken rule in one cell (or, for column-wide rules, one column).

    Attributes
    ----------
    row : object
        Index label of the offending row (``None`` for a whole column).
    cell : str
        The row described by its label columns, e.g. ``"state=IL, race=White"``.
    column : str
        The offending column.
    rule : str
        A key of :data:`RULE_TITLES`.
    value : object
        The offending value as published.
    message : str
        A plain-English explanation and what to do about it.
    """

    row: object
    cell: str
    column: str
    rule: str
    value: object
    message: str


@dataclasses.dataclass(frozen=True)
class Report:
    """What :func:`check_table` found: every violation, and which rules were checked.

    A report is ``ok`` when it lists no violations. Show it with :meth:`summary` (one row per rule) and
    :meth:`to_frame` (one row per violation).
    """

    violations: tuple[Violation, ...]
    checked: tuple[str, ...]
    rules: Rules
    n_rows: int

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    @property
    def rules_broken(self) -> list[str]:
        """The distinct rules broken, in the order of :data:`RULE_TITLES`."""
        broken = {v.rule for v in self.violations}
        return [r for r in RULE_TITLES if r in broken]

    def to_frame(self) -> pd.DataFrame:
        """One row per violation: row, cell, column, rule, value, explanation."""
        columns = ["row", "cell", "column", "rule", "value", "explanation"]
        data = {name: pd.Series([getattr(v, attr) for v in self.violations], dtype=object)
                for name, attr in zip(columns, ["row", "cell", "column", "rule", "value", "message"])}
        return pd.DataFrame(data, columns=columns)

    def summary(self) -> pd.DataFrame:
        """One row per rule checked: its title and the number of violations (0 when it passes)."""
        counts = pd.Series([v.rule for v in self.violations], dtype=object).value_counts()
        return pd.DataFrame(
            [(r, RULE_TITLES[r], int(counts.get(r, 0))) for r in self.checked],
            columns=["rule", "title", "violations"],
        )

    def raise_for_violations(self, what: str = "table") -> None:
        """Raise :class:`DisclosureError` listing the violations, if there are any."""
        if not self.ok:
            raise DisclosureError(f"{what} breaks {len(self.violations)} disclosure rule(s):\n{self}")

    def __str__(self) -> str:
        if self.ok:
            return f"No violations in {self.n_rows} rows (checked: {', '.join(self.checked)})."
        lines = [f"{len(self.violations)} violation(s) in {self.n_rows} rows:"]
        for v in self.violations[:20]:
            where = f"[{v.cell}] " if v.cell else ""
            lines.append(f"  - {v.rule}: {where}{v.column} = {v.value!r}: {v.message}")
        if len(self.violations) > 20:
            lines.append(f"  ... and {len(self.violations) - 20} more (see .to_frame())")
        return "\n".join(lines)

    def __repr__(self) -> str:
        counts = pd.Series([v.rule for v in self.violations], dtype=object).value_counts()
        inner = ", ".join(f"{r}: {n}" for r, n in counts.items()) or "ok"
        return f"<Report {len(self.violations)} violation(s) ({inner})>"


def _names(cols, what: str) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    if not isinstance(cols, Sequence):
        raise TypeError(f"{what} must be a column name or a list of names, got {cols!r}")
    return list(cols)


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)) or (isinstance(v, (float, np.floating)) and float(v).is_integer()):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{v:,.6f}".rstrip("0").rstrip(".")
    return repr(v)


def check_table(
    table: pd.DataFrame,
    *,
    count_cols: str | Sequence[str] = (),
    employer_count_col: str | None = None,
    top_employer_share_col: str | None = None,
    wage_cols: str | Sequence[str] = (),
    average_cols: str | Sequence[str] = (),
    percent_cols: str | Sequence[str] | Mapping[str, tuple[str, str]] = (),
    label_cols: str | Sequence[str] | None = None,
    unrounded: pd.DataFrame | None = None,
    margins: str | Sequence[str] | None = None,
    total_label: str = "Total",
    rules: Rules | None = None,
) -> Report:
    """Check a table meant for release against the disclosure rules; list every violation.

    The table is in long form: one row per cell, label columns (e.g. county, race) and value columns. A
    missing value (``<NA>``/``NaN``) in a value column means the cell is suppressed; suppressed cells are
    not checked except for the complementary-suppression rule.

    Rules checked (keys of :data:`RULE_TITLES`):

    * ``min_cell_size`` -- each published value of a ``count_cols`` column counts at least
      ``rules.min_cell_size`` individuals (read from ``unrounded`` when given, since rounding can turn 6
      into 10);
    * ``min_employers`` / ``dominance`` -- with ``employer_count_col`` / ``top_employer_share_col``, at
      least ``rules.min_employers`` employers and a largest-employer share of at most
      ``rules.max_employer_share`` behind every published row;
    * ``count_rounding``, ``wage_rounding``, ``average_rounding`` -- published counts, dollar amounts and
      averages are rounded (see :func:`round_count`, :func:`round_wage`, :func:`round_average`);
    * ``percent_extreme`` -- no percentage is 0 or 100; ``percent_rounded_parts`` -- with
      ``percent_cols={"rate": ("numerator", "denominator")}``, each percentage equals
      :func:`safe_percent` of its parts, and is missing when they are too small or suppressed;
    * ``exact_statistic`` -- no column is named like an exact median, minimum or maximum (call it
      ``fuzzy_...`` after using :func:`fuzzy_percentiles`);
    * ``complementary`` -- with ``margins``, no suppressed count can be worked out exactly from the
      published cells and the rows labeled ``total_label``.

    Parameters
    ----------
    table : DataFrame
        The table as it would be released.
    count_cols : str or list of str
        Columns holding counts of individuals.
    employer_count_col, top_employer_share_col : str, optional
        Columns (in ``table`` or ``unrounded``) with the number of employers and the largest employer's
        share (0-1) of each cell. Supporting columns like these need not be released: keep them in
        ``unrounded``.
    wage_cols, average_cols : str or list of str
        Columns holding dollar amounts and averages.
    percent_cols : str, list of str, or mapping
        Percentage columns (0-100). A mapping from each to its ``(numerator, denominator)`` count columns
        (looked up in ``unrounded`` first, then ``table``) also checks how it was computed.
    label_cols : str or list of str, optional
        Columns that name a cell in the messages (default: the non-numeric columns).
    unrounded : DataFrame, optional
        The same rows before rounding (same index), for size checks and supporting columns.
    margins : str or sequence of str, optional
        The label column of a 1-way table, or the two label columns of a 2-way table, whose totals are
        rows labeled ``total_label``; turns on the complementary-suppression check.
    total_label : str
        Label of total rows.
    rules : Rules, optional
        Thresholds; the defaults when omitted.

    Returns
    -------
    Report
        ``report.ok`` is True when nothing is wrong.

    Raises
    ------
    ValueError
        If a named column is missing, ``unrounded`` does not line up with ``table``, or a share is
        outside 0-1 (the offending value is quoted).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"county": ["A", "B"], "leavers": [120, 6]})
    >>> check_table(t, count_cols="leavers").rules_broken
    ['min_cell_size', 'count_rounding']
    """
    r = _rules(rules)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    if unrounded is not None:
        if not isinstance(unrounded, pd.DataFrame):
            raise TypeError(f"unrounded must be a pandas DataFrame, got {type(unrounded).__name__}")
        if not unrounded.index.equals(table.index):
            raise ValueError("unrounded must have the same index (the same rows, in the same order) as table")
    counts = _names(count_cols, "count_cols")
    wages = _names(wage_cols, "wage_cols")
    averages = _names(average_cols, "average_cols")
    if isinstance(percent_cols, Mapping):
        parts = {k: tuple(v) for k, v in percent_cols.items()}
        for k, v in parts.items():
            if len(v) != 2:
                raise ValueError(f"percent_cols[{k!r}] must be (numerator, denominator), got {v!r}")
        percents = list(parts)
    else:
        parts, percents = {}, _names(percent_cols, "percent_cols")
    dims = _names(margins, "margins")
    if margins is not None and len(dims) not in (1, 2):
        raise ValueError(f"margins must name one or two label columns, got {margins!r}")

    def source(col: str, *, prefer_unrounded: bool) -> pd.DataFrame:
        first, second = (unrounded, table) if prefer_unrounded else (table, unrounded)
        for frame in (first, second):
            if frame is not None and col in frame.columns:
                return frame
        where = "table" + (" or unrounded" if unrounded is not None else "")
        raise ValueError(f"column {col!r} is not in {where} (columns: {list(table.columns)})")

    for col in [*counts, *wages, *averages, *percents, *dims]:
        if col not in table.columns:
            raise ValueError(f"column {col!r} is not in the table (columns: {list(table.columns)})")
    for col in [employer_count_col, top_employer_share_col, *(c for p in parts.values() for c in p)]:
        if col is not None:
            source(col, prefer_unrounded=True)

    value_cols = {*counts, *wages, *averages, *percents}
    if label_cols is None:
        labels = [c for c in table.columns if c not in value_cols and not pd.api.types.is_numeric_dtype(table[c])]
    else:
        labels = _names(label_cols, "label_cols")
        missing = [c for c in labels if c not in table.columns]
        if missing:
            raise ValueError(f"label column {missing[0]!r} is not in the table (columns: {list(table.columns)})")

    found: list[Violation] = []
    checked: list[str] = []

    def add(row, col, rule, value, message):
        cell = ", ".join(f"{c}={table.at[row, c]}" for c in labels) if row is not None else "(whole column)"
        found.append(Violation(row=row, cell=cell, column=col, rule=rule, value=value, message=message))

    def val(frame, row, col):
        v = frame.at[row, col]
        return None if _is_missing(v) else (v.item() if isinstance(v, np.generic) else v)

    def row_suppressed(row) -> bool:
        return bool(counts) and all(val(table, row, c) is None for c in counts)

    # -- counts: minimum size and rounding
    if counts:
        checked += ["min_cell_size", "count_rounding"]
    for col in counts:
        size_frame = unrounded if unrounded is not None and col in unrounded.columns else table
        for row in table.index:
            shown = val(table, row, col)
            if shown is None:
                continue
            n = val(size_frame, row, col)
            n = shown if n is None else n
            if not isinstance(n, (int, float)) or isinstance(n, bool):
                raise TypeError(f"{col} must hold numbers, got {n!r} in row {row!r}")
            if n < r.min_cell_size:
                told = f"published as {_fmt(shown)} but it counts only {_fmt(n)}" if n != shown else f"{_fmt(n)}"
                add(row, col, "min_cell_size", shown,
                    f"{col} is {told} individuals; at least {r.min_cell_size} are required. Suppress the cell "
                    "(and complementary cells), or combine it with others.")
            try:
                expected = round_count(shown, rules=r)
            except ValueError as err:
                add(row, col, "count_rounding", shown, f"{col} is not a valid count: {err}")
                continue
            if not math.isclose(float(shown), expected, abs_tol=1e-9):
                add(row, col, "count_rounding", shown,
                    f"{_fmt(shown)} is not rounded: counts below {r.count_large_from:,} go to the nearest "
                    f"{r.count_unit_small} and larger counts to the nearest {r.count_unit_large} "
                    f"(publish {expected:,}).")

    # -- employer-based rules
    if employer_count_col is not None:
        checked.append("min_employers")
        frame = source(employer_count_col, prefer_unrounded=True)
        for row in table.index:
            e = val(frame, row, employer_count_col)
            if e is None or row_suppressed(row):
                continue
            if e < r.min_employers:
                add(row, employer_count_col, "min_employers", e,
                    f"only {_fmt(e)} employer(s) behind this cell; at least {r.min_employers} are required, or "
                    "a reader could learn about a single business. Suppress or combine cells.")
    if top_employer_share_col is not None:
        checked.append("dominance")
        frame = source(top_employer_share_col, prefer_unrounded=True)
        for row in table.index:
            s = val(frame, row, top_employer_share_col)
            if s is None or row_suppressed(row):
                continue
            if not 0 <= s <= 1:
                raise ValueError(f"{top_employer_share_col} must be a share between 0 and 1, got {s!r} in row "
                                 f"{row!r} (give 85% as 0.85)")
            if s > r.max_employer_share:
                add(row, top_employer_share_col, "dominance", s,
                    f"the largest employer contributes {s:.0%} of this cell, more than "
                    f"{r.max_employer_share:.0%}: the cell would reveal that employer's figures. Suppress or "
                    "combine cells.")

    # -- dollar amounts and averages
    if wages:
        checked.append("wage_rounding")
    for col in wages:
        for row in table.index:
            v = val(table, row, col)
            if v is not None and not math.isclose(float(v), round_wage(v, rules=r), abs_tol=1e-9):
                add(row, col, "wage_rounding", v,
                    f"{_fmt(v)} is not rounded: dollar amounts go to the nearest {r.wage_unit} "
                    f"(publish {round_wage(v, rules=r):,}).")
    if averages:
        checked.append("average_rounding")
    for col in averages:
        for row in table.index:
            v = val(table, row, col)
            if v is not None and not math.isclose(float(v), round_average(v, rules=r), abs_tol=1e-9):
                add(row, col, "average_rounding", v,
                    f"{v!r} is not rounded: averages keep {r.average_decimals} decimal(s) "
                    f"(publish {round_average(v, rules=r)}).")

    # -- percentages
    if percents:
        checked.append("percent_extreme")
    if parts:
        checked.append("percent_rounded_parts")
    step = 10.0 ** -r.percent_decimals
    for col in percents:
        for row in table.index:
            v = val(table, row, col)
            if v is not None and (v <= 0 or v >= 100):
                add(row, col, "percent_extreme", v,
                    f"a percentage of {_fmt(v)}% says that none or all of the cell share the trait; never "
                    "show 0% or 100% (suppress it, or combine cells).")
            if col not in parts:
                continue
            num_col, den_col = parts[col]
            hidden = [c for c in (num_col, den_col) if c in table.columns and val(table, row, c) is None]
            num = val(source(num_col, prefer_unrounded=True), row, num_col)
            den = val(source(den_col, prefer_unrounded=True), row, den_col)
            expected = None if hidden or num is None or den is None else safe_percent(num, den, rules=r)
            expected = None if expected is not None and math.isnan(expected) else expected
            if v is None:
                continue
            if hidden:
                add(row, col, "percent_rounded_parts", v,
                    f"{col} is shown although {' and '.join(hidden)} is suppressed in this row: the "
                    "percentage would let a reader recover it. Suppress the percentage too.")
            elif expected is None:
                add(row, col, "percent_rounded_parts", v,
                    f"{col} rests on {_fmt(num)} of {_fmt(den)} individuals; a percentage needs at least "
                    f"{r.min_cell_size} in both its numerator and its denominator. Suppress it.")
            elif abs(float(v) - expected) > step / 2 + 1e-9:
                add(row, col, "percent_rounded_parts", v,
                    f"{_fmt(v)}% is not computed from the rounded parts: {round_count(num, rules=r):,} of "
                    f"{round_count(den, rules=r):,} gives {expected}%. Round the numerator and denominator "
                    "first, then divide.")

    # -- exact order statistics, by column name
    checked.append("exact_statistic")
    for col in table.columns:
        name = str(col).lower()
        if col in labels or "fuzzy" in name:
            continue
        if _EXACT_NAME.search(name) and pd.api.types.is_numeric_dtype(table[col]):
            add(None, str(col), "exact_statistic", None,
                f"column {col!r} looks like an exact median, minimum or maximum, which describes one real "
                "person's value. Publish fuzzy percentiles instead (fuzzy_percentiles) and name the column "
                "fuzzy_...")

    # -- complementary suppression
    if dims:
        checked.append("complementary")
        for col in counts:
            for row, recovered in _recoverable(table, dims, col, total_label):
                true = val(unrounded, row, col) if unrounded is not None and col in unrounded.columns else None
                known = f" (it is {_fmt(true)})" if true is not None else ""
                add(row, col, "complementary", None,
                    f"{col} is suppressed here but can be worked out exactly from the published cells and "
                    f"{recovered}{known}. Suppress at least one more cell in every row and column that "
                    "holds it (complementary suppression; see suppress()).")

    order = {k: i for i, k in enumerate(RULE_TITLES)}
    found.sort(key=lambda v: order[v.rule])
    return Report(violations=tuple(found), checked=tuple(dict.fromkeys(checked)), rules=r, n_rows=len(table))


def _recoverable(table: pd.DataFrame, dims: list[str], col: str, total: str) -> list[tuple[object, str]]:
    """(row label, how) for each suppressed ``col`` cell the published cells and totals determine."""
    if len(dims) == 1:
        keys = [(v, None) for v in table[dims[0]].tolist()]
    else:
        keys = list(zip(table[dims[0]].tolist(), table[dims[1]].tolist()))
    seen: dict[tuple, object] = {}
    for label, key in zip(table.index, keys):
        if key in seen:
            raise ValueError(f"margins: the label combination {key!r} appears in more than one row")
        seen[key] = label
    rows = [k for k in dict.fromkeys(k[0] for k in keys) if k != total]
    rows += [total] if any(k[0] == total for k in keys) else []
    pos_r = {v: i for i, v in enumerate(rows)}
    if len(dims) == 1:
        pos_c = {None: 0}
        lines = [([(pos_r[v], 0) for v in rows], [1] * (len(rows) - 1) + [-1])] if (total, None) in seen else []
    else:
        cols = [k for k in dict.fromkeys(k[1] for k in keys) if k != total]
        cols += [total] if any(k[1] == total for k in keys) else []
        pos_c = {v: j for j, v in enumerate(cols)}
        inner_r, inner_c = [v for v in rows if v != total], [v for v in cols if v != total]
        lines = []
        for rv in rows:
            if (rv, total) in seen:
                cells = [(pos_r[rv], pos_c[cv]) for cv in inner_c] + [(pos_r[rv], pos_c[total])]
                lines.append((cells, [1] * len(inner_c) + [-1]))
        for cv in cols:
            if (total, cv) in seen:
                cells = [(pos_r[rv], pos_c[cv]) for rv in inner_r] + [(pos_r[total], pos_c[cv])]
                lines.append((cells, [1] * len(inner_r) + [-1]))
    hidden = {(pos_r[k[0]], pos_c[k[1]]): seen[k] for k in keys if _is_missing(table.at[seen[k], col])}
    out = []
    for cell in _determined(lines, list(hidden)):
        label = hidden[cell]
        out.append((label, "totals" if len(dims) == 2 else "the total"))
    return out
