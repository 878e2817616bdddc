"""Primary and complementary (secondary) cell suppression for 1-way and 2-way tables with margins.

The geometry: a 2-way table with margins is an (R+1) x (C+1) grid whose last row and column hold the
totals. Every row of the grid (the total row included) says "the cells add up to the total", and so does
every column. A 1-way table with a total is one such line. Publishing some cells and suppressing others
leaves a linear system in the suppressed cells; a suppressed cell is *exposed* when that system pins its
value down exactly. :func:`exposed_cells` decides this exactly, from the null space of the system.

Why the simple rule "no line may contain exactly one suppressed cell" is not enough on its own: picture
the suppressed cells as edges between their row and their column. A line with one suppressed cell is a
node of degree one (its edge is exposed, by subtraction), but a cell can also be exposed when its edge is
a *bridge* joining two otherwise separate groups of suppressed cells: adding up whole rows on one side
and subtracting whole columns isolates it. :func:`suppress` therefore applies the line rule to a fixpoint
and then audits the result exactly, adding cells until nothing is exposed.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._rules import Rules, _rules, round_count

__all__ = ["Suppression", "suppress", "exposed_cells"]

Cell = tuple[int, int]


# ------------------------------------------------------------------------------------------ geometry
def _lines(n_rows: int, n_cols: int, *, margins: bool, one_way: bool) -> list[tuple[list[Cell], list[int]]]:
    """The additive constraints of a grid whose last row (and, 2-way, last column) are totals."""
    if not margins:
        return []
    if one_way:
        cells = [(i, 0) for i in range(n_rows)]
        return [(cells, [1] * (n_rows - 1) + [-1])]
    lines = []
    for i in range(n_rows):
        lines.append(([(i, j) for j in range(n_cols)], [1] * (n_cols - 1) + [-1]))
    for j in range(n_cols):
        lines.append(([(i, j) for i in range(n_rows)], [1] * (n_rows - 1) + [-1]))
    return lines


def _determined(lines, suppressed: Sequence[Cell]) -> list[Cell]:
    """Suppressed cells whose value the lines (with every other cell known) determine exactly."""
    cells = list(suppressed)
    if not cells or not lines:
        return []
    index = {c: k for k, c in enumerate(cells)}
    rows = []
    for line_cells, coefs in lines:
        row = np.zeros(len(cells))
        for c, a in zip(line_cells, coefs):
            if c in index:
                row[index[c]] = a
        if row.any():
            rows.append(row)
    if not rows:
        return []
    a = np.vstack(rows)
    _, s, vt = np.linalg.svd(a, full_matrices=True)
    tol = max(a.shape) * np.finfo(float).eps * (s.max() if s.size else 0.0) * 10
    rank = int((s > tol).sum())
    null = vt[rank:].T  # columns span the directions the suppressed cells can move together
    if null.size == 0:
        return cells
    return [c for k, c in enumerate(cells) if np.linalg.norm(null[k]) < 1e-8]


# ----------------------------------------------------------------------------------------- the result
@dataclasses.dataclass(frozen=True)
class Suppression:
    """The outcome of :func:`suppress`: which cells to publish and why the others are hidden.

    Attributes
    ----------
    counts : DataFrame
        The unrounded counts, with the ``Total`` row and column when margins are published (a 1-way table
        has a single column). Never release this frame.
    primary : DataFrame of bool
        Cells hidden because they break a rule themselves (too few individuals or employers, dominance).
    complementary : DataFrame of bool
        Cells hidden so that no primary cell can be worked out from the published cells and totals.
    reasons : DataFrame of str
        A plain-English reason for every hidden cell ("" for published cells).
    margins : bool
        Whether totals are part of the published table.
    one_way : bool
        True for a 1-way table (one column of categories plus a total).
    rules : Rules
        The thresholds used.
    """

    counts: pd.DataFrame
    primary: pd.DataFrame
    complementary: pd.DataFrame
    reasons: pd.DataFrame
    margins: bool
    one_way: bool
    total_label: str
    rules: Rules

    @property
    def mask(self) -> pd.DataFrame:
        """True where a cell is suppressed (primary or complementary)."""
        return self.primary | self.complementary

    @property
    def row_name(self) -> str:
        return self.counts.index.name or "row"

    @property
    def column_name(self) -> str:
        return self.counts.columns.name or "column"

    def published(self, *, rounded: bool = True) -> pd.DataFrame:
        """The table to release: suppressed cells missing (``<NA>``), the others rounded by default."""
        out = self.counts.astype("Float64").mask(self.mask)
        if rounded:
            return out.apply(lambda col: round_count(col, rules=self.rules))
        if ((out.fillna(0) % 1) == 0).all().all():
            return out.astype("Int64")
        return out

    def cells(self) -> pd.DataFrame:
        """One row per cell: labels, unrounded count, ``status`` (published/primary/complementary), reason."""
        rows = []
        for i, r in enumerate(self.counts.index):
            for j, c in enumerate(self.counts.columns):
                status = ("primary" if self.primary.iat[i, j] else
                          "complementary" if self.complementary.iat[i, j] else "published")
                rows.append({self.row_name: r, self.column_name: c, "count": self.counts.iat[i, j],
                             "status": status, "reason": self.reasons.iat[i, j]})
        out = pd.DataFrame(rows)
        if self.one_way:
            out = out.drop(columns=self.column_name)
        return out

    def to_long(self, *, value_name: str = "count", rounded: bool = True) -> pd.DataFrame:
        """The published table in long form (one row per cell, totals labeled ``total_label``).

        Feed it to :func:`check_table` with ``margins=(row_name, column_name)`` (or ``(row_name,)`` for a
        1-way table) to confirm that nothing can be recovered.
        """
        wide = self.published(rounded=rounded)
        if self.one_way:
            out = wide.iloc[:, 0].rename(value_name).rename_axis(self.row_name).reset_index()
        else:
            out = wide.stack(future_stack=True).rename(value_name).rename_axis(
                [self.row_name, self.column_name]).reset_index()
        return out

    def exposed(self) -> list[tuple]:
        """Labels of suppressed cells that can still be worked out exactly (empty after :func:`suppress`)."""
        mask = self.mask.to_numpy()
        cells = [tuple(c) for c in np.argwhere(mask)]
        lines = _lines(*mask.shape, margins=self.margins, one_way=self.one_way)
        return [(self.counts.index[i], self.counts.columns[j]) for i, j in _determined(lines, cells)]

    def intervals(self) -> pd.DataFrame:
        """For each suppressed cell, the smallest and largest value consistent with what is published.

        Solves two linear programs per cell (``scipy.optimize.linprog``) over non-negative values that
        satisfy every published total. A protected cell has ``upper > lower``; the width is how much an
        outsider remains unsure about it.
        """
        return feasible_intervals(self.counts, self.mask, margins=self.margins, one_way=self.one_way)


def _bounds(values: np.ndarray, cells: Sequence[Cell], lines, targets: Sequence[Cell] | None = None) -> dict:
    """(lower, upper) of each target among the hidden ``cells``, over non-negative values that satisfy the
    lines with every other cell at its published value (two linear programs per target)."""
    from scipy.optimize import linprog

    index = {c: k for k, c in enumerate(cells)}
    a_eq, b_eq = [], []
    for line_cells, coefs in lines:
        row, rhs = np.zeros(len(cells)), 0.0
        for c, a in zip(line_cells, coefs):
            if c in index:
                row[index[c]] = a
            else:
                rhs -= a * values[c]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    a_eq = np.array(a_eq) if a_eq else None
    b_eq = np.array(b_eq) if b_eq is not None and len(b_eq) else None
    out = {}
    for cell in cells if targets is None else targets:
        found = []
        for sign in (1, -1):
            cost = np.zeros(len(cells))
            cost[index[cell]] = sign
            res = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=[(0, None)] * len(cells), method="highs")
            found.append(np.inf if res.status == 3 else sign * res.fun)
        out[cell] = (found[0], found[1])
    return out


def _has_scipy() -> bool:
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:  # pragma: no cover - scipy ships with the course extras
        return False
    return True


def feasible_intervals(counts: pd.DataFrame, mask: pd.DataFrame, *, margins: bool, one_way: bool) -> pd.DataFrame:
    """Lower and upper bounds of each masked cell given the unmasked ones (see :meth:`Suppression.intervals`)."""
    if not _has_scipy():  # pragma: no cover
        raise ImportError("feasible intervals need scipy (pip install scipy)")
    values, m = counts.to_numpy(dtype=float), mask.to_numpy(dtype=bool)
    cells = [tuple(c) for c in np.argwhere(m)]
    bounds = _bounds(values, cells, _lines(*m.shape, margins=margins, one_way=one_way)) if cells else {}
    out = [{"row": counts.index[i], "column": counts.columns[j], "value": values[i, j],
            "lower": bounds[(i, j)][0], "upper": bounds[(i, j)][1]} for i, j in cells]
    frame = pd.DataFrame(out, columns=["row", "column", "value", "lower", "upper"])
    frame["width"] = frame["upper"] - frame["lower"]
    return frame


# ----------------------------------------------------------------------------------------- suppress
def _check_values(frame: pd.DataFrame, what: str) -> None:
    for (r, c), v in frame.stack(future_stack=True).items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or pd.isna(v):
            raise ValueError(f"{what} for ({r!r}, {c!r}) must be a number, got {v!r}")
        if v < 0:
            raise ValueError(f"{what} for ({r!r}, {c!r}) is negative: {v!r}")


def _with_margins(interior: pd.DataFrame, given: pd.DataFrame | None, total: str, *, one_way: bool, how: str,
                  what: str) -> pd.DataFrame:
    """Interior plus computed totals; totals present in ``given`` must agree with the computed ones."""
    agg = interior.sum if how == "sum" else interior.max
    full = interior.copy()
    if one_way:
        full.loc[total] = agg(axis=0)
    else:
        full[total] = agg(axis=1)
        full.loc[total] = full.sum(axis=0) if how == "sum" else full.max(axis=0)
    if given is not None:
        for (r, c), v in given.stack(future_stack=True).items():
            if pd.isna(v):
                continue
            if (r == total or c == total) and not np.isclose(float(v), float(full.loc[r, c])):
                where = "the grand total" if r == total and c == total else (
                    f"the total of column {c!r}" if r == total else f"the total of row {r!r}")
                raise ValueError(f"{what}: {where} is {v!r} but the cells add up to {full.loc[r, c]!r}")
    return full


def _frame(table, *, row, column, count, total: str, margins: bool, what: str):
    """Normalize the input to (interior frame, given frame, one_way)."""
    if count is not None:
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"a long table (count={count!r}) must be a DataFrame, got {type(table).__name__}")
        keys = [k for k in (row, column) if k is not None]
        missing = [k for k in [*keys, count] if k not in table.columns]
        if not keys or missing:
            raise ValueError(f"long table needs row= (and optionally column=) and count= columns; missing "
                             f"{missing or ['row']} among {list(table.columns)}")
        if column is None:
            given = table.groupby(row, sort=True)[count].sum().to_frame(count)
        else:
            given = table.groupby([row, column], sort=True)[count].sum().unstack(column)
        one_way = column is None
    elif isinstance(table, pd.Series):
        given, one_way = table.to_frame(table.name if table.name is not None else "count"), True
    elif isinstance(table, pd.DataFrame):
        given, one_way = table, False
    else:
        raise TypeError(f"table must be a DataFrame or Series of counts, got {type(table).__name__}")
    has_total = total in given.index or (not one_way and total in given.columns)
    if has_total and not margins:
        raise ValueError(f"the table has a {total!r} row or column but margins=False; drop it or use margins=True")
    interior = given.drop(index=[total], errors="ignore")
    if not one_way:
        interior = interior.drop(columns=[total], errors="ignore")
    if interior.empty:
        raise ValueError(f"{what} has no cells")
    if count is not None:
        interior = interior.fillna(0)  # a combination with no rows is a cell with a count of 0
    return interior, given, one_way


def _aligned(extra, like: pd.DataFrame, *, table_kind, row, column, total, one_way, margins, how, what):
    """An employers / top-employer table shaped like the counts grid (margins computed where missing)."""
    if extra is None:
        return None
    if isinstance(extra, str):
        if table_kind is None:
            raise TypeError(f"{what}={extra!r} names a column, which needs a long table (count=...)")
        long, _row, _col = table_kind
        agg = "sum" if how == "sum" else "max"
        frame = (long.groupby(_row, sort=False)[extra].agg(agg).to_frame(like.columns[0]) if _col is None
                 else long.groupby([_row, _col], sort=False)[extra].agg(agg).unstack(_col))
    elif isinstance(extra, pd.Series):
        frame = extra.to_frame(like.columns[0])
    elif isinstance(extra, pd.DataFrame):
        frame = extra
    else:
        raise TypeError(f"{what} must be a DataFrame (or a column name for a long table), got {type(extra).__name__}")
    interior_labels = like.drop(index=[total], errors="ignore")
    if not one_way:
        interior_labels = interior_labels.drop(columns=[total], errors="ignore")
    try:
        interior = frame.reindex(index=interior_labels.index, columns=interior_labels.columns)
    except ValueError as err:
        raise ValueError(f"{what} could not be lined up with the counts: {err}") from err
    interior = interior.fillna(0) if isinstance(extra, str) else interior
    if interior.isna().any().any():
        r, c = interior.isna().stack().idxmax()
        raise ValueError(f"{what} has no value for cell ({r!r}, {c!r})")
    _check_values(interior, what)
    if not margins:
        return interior
    return _with_margins(interior, frame, total, one_way=one_way, how=how, what=what)


def suppress(
    table,
    *,
    rules: Rules | None = None,
    margins: bool = True,
    total_label: str = "Total",
    employers=None,
    top_employer=None,
    primary: pd.DataFrame | None = None,
    row: str | None = None,
    column: str | None = None,
    count: str | None = None,
) -> Suppression:
    """Primary, then complementary suppression of a 1-way or 2-way table of counts.

    **Primary:** a cell (totals included) is hidden when it counts fewer than ``rules.min_cell_size``
    individuals (0 included), when ``employers`` shows fewer than ``rules.min_employers`` employers behind
    it, when ``top_employer`` exceeds ``rules.max_employer_share`` of it, or when ``primary`` marks it.

    **Complementary:** while some row or column (the total row and column included) has exactly one hidden
    cell, hide the smallest published cell of that line, preferring inner cells to totals (ties: the first
    in reading order); then check exactly, with linear algebra, that no hidden cell can be worked out from
    the published ones, and if one can, hide the smallest cell that protects it; repeat until nothing can
    be recovered. The result protects every hidden cell against anyone holding the published table and its
    totals (other tables released from the same data need checking together).

    Parameters
    ----------
    table : DataFrame or Series
        A 2-way table of counts (index = row categories, columns = column categories), a 1-way Series, or
        a long table with ``row``, ``column`` and ``count`` columns. Totals labeled ``total_label`` may be
        included; they are checked against the cells. Missing combinations in a long table count as 0.
    rules : Rules, optional
        Thresholds; the defaults when omitted.
    margins : bool
        Whether the row and column totals are published (computed when absent). With ``False`` only
        primary suppression applies, because nothing links the cells.
    total_label : str
        Label of the total row and column.
    employers : DataFrame, Series or str, optional
        Number of employers behind each cell (a table shaped like ``table``, or a column name of a long
        table). Totals are computed as sums: each employer must belong to exactly one cell.
    top_employer : DataFrame, Series or str, optional
        The largest single employer's contribution to each cell, in the units of the counts (for the
        dominance rule). Totals are computed as maxima.
    primary : DataFrame of bool, optional
        Extra cells to suppress for reasons of your own.
    row, column, count : str, optional
        Column names when ``table`` is long (``column`` omitted for a 1-way table).

    Returns
    -------
    Suppression
        Unrounded counts with margins, the primary and complementary masks, reasons, and methods to
        publish (:meth:`Suppression.published`, :meth:`Suppression.to_long`) and audit
        (:meth:`Suppression.exposed`, :meth:`Suppression.intervals`).

    Raises
    ------
    ValueError
        For negative or missing counts, or totals that do not add up (the offending value is quoted).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"a": [20, 4], "b": [30, 25]}, index=["x", "y"])
    >>> s = suppress(t)
    >>> sorted(s.mask.stack().loc[lambda m: m].index.tolist())
    [('x', 'a'), ('x', 'b'), ('y', 'a'), ('y', 'b')]
    """
    r = _rules(rules)
    if not isinstance(margins, bool):
        raise TypeError(f"margins must be True or False, got {margins!r}")
    interior, given, one_way = _frame(table, row=row, column=column, count=count, total=total_label,
                                      margins=margins, what="table")
    _check_values(interior, "count")
    full = _with_margins(interior, given, total_label, one_way=one_way, how="sum", what="table") if margins else interior
    full = full.copy()
    full.index.name = (row if count is not None else interior.index.name) or full.index.name
    if not one_way:
        full.columns.name = (column if count is not None else interior.columns.name) or full.columns.name
    kind = (table, row, column) if count is not None else None
    opts = {"table_kind": kind, "row": row, "column": column, "total": total_label, "one_way": one_way,
            "margins": margins}
    emp = _aligned(employers, full, how="sum", what="employers", **opts)
    top = _aligned(top_employer, full, how="max", what="top_employer", **opts)

    values = full.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    is_margin = np.zeros_like(values, dtype=bool)
    if margins:
        is_margin[-1, :] = True
        if not one_way:
            is_margin[:, -1] = True
    reasons = np.full(values.shape, "", dtype=object)
    prim = np.zeros_like(values, dtype=bool)
    extra = None
    if primary is not None:
        if not isinstance(primary, pd.DataFrame):
            raise TypeError(f"primary must be a DataFrame of True/False, got {type(primary).__name__}")
        extra = primary.reindex(index=full.index, columns=full.columns).fillna(False).astype(bool).to_numpy()
    for i in range(n_rows):
        for j in range(n_cols):
            why = []
            if values[i, j] < r.min_cell_size:
                why.append(f"{values[i, j]:g} individual(s), fewer than {r.min_cell_size}")
            if emp is not None and emp.iat[i, j] < r.min_employers:
                why.append(f"{emp.iat[i, j]:g} employer(s), fewer than {r.min_employers}")
            if top is not None and values[i, j] > 0 and top.iat[i, j] / values[i, j] > r.max_employer_share:
                why.append(f"the largest employer has {top.iat[i, j] / values[i, j]:.0%} of the cell, more than "
                           f"{r.max_employer_share:.0%}")
            if extra is not None and extra[i, j]:
                why.append("marked for suppression by the analyst")
            if why:
                prim[i, j] = True
                reasons[i, j] = "primary: " + "; ".join(why)

    lines = _lines(n_rows, n_cols, margins=margins, one_way=one_way)
    supp = prim.copy()
    comp = np.zeros_like(prim)

    def label(c: Cell) -> str:
        rl, cl = full.index[c[0]], full.columns[c[1]]
        return f"{rl!r}" if one_way else f"({rl!r}, {cl!r})"

    def preference(c: Cell):  # inner cells before totals, non-zero before zero, then smallest, then reading order
        return (is_margin[c], values[c] == 0, values[c], c)

    def hidden_cells() -> list[Cell]:
        return [tuple(c) for c in np.argwhere(supp)]

    def protects_by_equations(cand: Cell, target: Cell) -> bool:
        return target not in _determined(lines, hidden_cells() + [cand])

    def protects_by_bounds(cand: Cell, target: Cell) -> bool:
        lo, hi = _bounds(values, hidden_cells() + [cand], lines, [target])[target]
        return hi - lo > 1e-7

    order = sorted(((i, j) for i in range(n_rows) for j in range(n_cols)), key=preference)
    while True:
        changed = False
        for line_cells, _ in lines:
            hidden = [c for c in line_cells if supp[c]]
            if len(hidden) == 1:
                pick = min((c for c in line_cells if not supp[c]), key=preference)
                supp[pick], comp[pick], changed = True, True, True
                reasons[pick] = f"complementary: protects {label(hidden[0])} in the same line"
        if changed:
            continue
        # exact audit 1: the totals' equations must not determine any hidden cell
        exposed = _determined(lines, hidden_cells())
        protects = protects_by_equations
        why = "being worked out from the totals"
        # exact audit 2: with counts >= 0, hidden zeros can pin cells the equations alone leave free.
        # scipy is looked for last: importing scipy.optimize costs more than suppressing a table that
        # needs no linear program (most tables), so a table without a hidden zero never imports it.
        if not exposed and margins and any(values[c] == 0 for c in hidden_cells()) and _has_scipy():
            bounds = _bounds(values, hidden_cells(), lines)
            exposed = [c for c, (lo, hi) in bounds.items() if hi - lo <= 1e-7]
            protects = protects_by_bounds
            why = "being pinned down by the totals and zero cells"
        if not exposed:
            break
        target = exposed[0]
        candidates = [c for c in order if not supp[c]]
        pick = next((c for c in candidates if protects(c, target)), candidates[0] if candidates else None)
        if pick is None:  # pragma: no cover - hiding every cell always protects; kept as a guard
            raise RuntimeError(f"could not protect cell {label(target)}")
        supp[pick], comp[pick] = True, True
        reasons[pick] = f"complementary: stops {label(target)} {why}"

    def frame(a):
        return pd.DataFrame(a, index=full.index, columns=full.columns)

    return Suppression(counts=full, primary=frame(prim), complementary=frame(comp), reasons=frame(reasons),
                       margins=margins, one_way=one_way, total_label=total_label, rules=r)


def exposed_cells(counts: pd.DataFrame, mask: pd.DataFrame, *, margins: bool = True, one_way: bool = False) -> list:
    """Suppressed cells of a table with margins that can be worked out exactly from the published ones.

    Parameters
    ----------
    counts : DataFrame
        The full grid, with the total row last (and, 2-way, the total column last).
    mask : DataFrame of bool
        True for suppressed cells.
    margins, one_way : bool
        The table's geometry (see :func:`suppress`).

    Returns
    -------
    list of (row label, column label)
    """
    m = mask.reindex(index=counts.index, columns=counts.columns).fillna(False).astype(bool).to_numpy()
    lines = _lines(*m.shape, margins=margins, one_way=one_way)
    return [(counts.index[i], counts.columns[j]) for i, j in _determined(lines, [tuple(c) for c in np.argwhere(m)])]
