"""Property-based tests (hypothesis) for statelab.disclosure.

The central property: for random 1-way and 2-way tables with margins, after ``suppress()`` no suppressed
cell can be recovered from the published cells and totals. It is verified two independent ways, with code
written here rather than borrowed from the package:

1. **Linear algebra (exact).** The published table gives one equation per row and per column (the total
   row and column included): the cells add up to the total. A hidden cell is recoverable from these
   equations exactly when its unit vector lies in the row space of the equations restricted to the hidden
   cells -- tested with matrix ranks.
2. **Bounds (exact, with counts >= 0).** For every hidden cell, ``scipy.optimize.linprog`` finds the
   smallest and largest value consistent with everything published and with non-negativity. The interval
   must have positive width. This also catches cells pinned by hidden zeros, which the equations miss.

"Every row and column holds 0 or at least 2 hidden cells" is checked too, but only as a necessary
condition: it is not sufficient (a hidden cell that bridges two blocks of hidden cells is recoverable by
adding up one block's rows and subtracting its columns; tests/statelab/test_disclosure.py has one).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statelab import disclosure as d

linprog = pytest.importorskip("scipy.optimize").linprog

# Modest example counts keep the file to a few seconds of CPU; a one-off run with 800 examples per table
# property found no counterexample.
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def two_way_tables(draw, max_rows=5, max_cols=5, high=60):
    """A table of counts with many small cells (and some zeros) so suppression has work to do."""
    n_rows, n_cols = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    cells = draw(st.lists(st.lists(st.integers(0, high), min_size=n_cols, max_size=n_cols),
                          min_size=n_rows, max_size=n_rows))
    return pd.DataFrame(cells, index=[f"r{i}" for i in range(n_rows)], columns=[f"c{j}" for j in range(n_cols)])


def _equations(shape, one_way):
    """Coefficient rows over the full grid (flattened): each line's cells minus its total = 0."""
    n_rows, n_cols = shape
    eqs = []
    if one_way:
        row = np.zeros(n_rows)
        row[:-1], row[-1] = 1, -1
        return [row.reshape(n_rows, 1)]
    for i in range(n_rows):
        e = np.zeros(shape)
        e[i, :-1], e[i, -1] = 1, -1
        eqs.append(e)
    for j in range(n_cols):
        e = np.zeros(shape)
        e[:-1, j], e[-1, j] = 1, -1
        eqs.append(e)
    return eqs


def _recoverable_by_equations(values, mask, one_way):
    hidden = np.flatnonzero(mask.ravel())
    a = np.array([e.ravel()[hidden] for e in _equations(values.shape, one_way)])
    rank = np.linalg.matrix_rank(a) if a.size else 0
    out = []
    for k in range(len(hidden)):
        unit = np.zeros(len(hidden))
        unit[k] = 1
        if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
            out.append(hidden[k])
    return out


def _widths(values, mask, one_way):
    hidden = np.flatnonzero(mask.ravel())
    flat = values.ravel()
    a_eq, b_eq = [], []
    for e in _equations(values.shape, one_way):
        coef = e.ravel()
        a_eq.append(coef[hidden])
        b_eq.append(-coef[~mask.ravel()] @ flat[~mask.ravel()])
    widths = []
    for k in range(len(hidden)):
        ends = []
        for sign in (1.0, -1.0):
            cost = np.zeros(len(hidden))
            cost[k] = sign
            res = linprog(cost, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=[(0, None)] * len(hidden),
                          method="highs")
            assert res.status in (0, 3), res.message  # the true table is always feasible
            ends.append(math.inf if res.status == 3 else sign * res.fun)
        widths.append(ends[1] - ends[0])
    return widths


def _assert_protected(s):
    values = s.counts.to_numpy(dtype=float)
    mask = s.mask.to_numpy()
    # the margins really are the sums of the cells
    if s.one_way:
        assert values[-1, 0] == values[:-1, 0].sum()
    else:
        assert np.allclose(values[-1, :-1], values[:-1, :-1].sum(axis=0))
        assert np.allclose(values[:-1, -1], values[:-1, :-1].sum(axis=1))
    # every cell under the minimum (totals included) is hidden; what is published meets it
    assert (mask | (values >= s.rules.min_cell_size)).all()
    assert (values[~mask] >= s.rules.min_cell_size).all()
    # necessary condition: no line with exactly one hidden cell
    lines = [mask[:, 0]] if s.one_way else [*mask, *mask.T]
    assert all(line.sum() != 1 for line in lines)
    # exact checks
    assert _recoverable_by_equations(values, mask, s.one_way) == []
    assert all(w > 1e-7 for w in _widths(values, mask, s.one_way))


@FAST
@given(two_way_tables())
def test_suppressed_cells_cannot_be_recovered_two_way(table):
    s = d.suppress(table)
    _assert_protected(s)
    assert (s.primary & s.complementary).to_numpy().sum() == 0
    assert s.exposed() == []
    # the checker agrees with suppress(): the published long table passes
    release = s.to_long(value_name="n")
    assert d.check_table(release, count_cols="n", margins=("row", "column")).ok


@FEW
@given(two_way_tables(high=25), st.integers(5, 15))
def test_protection_holds_for_other_minimums(table, minimum):
    _assert_protected(d.suppress(table, rules=d.Rules(min_cell_size=minimum)))


@FAST
@given(st.lists(st.integers(0, 40), min_size=1, max_size=8))
def test_suppressed_cells_cannot_be_recovered_one_way(counts):
    s = d.suppress(pd.Series(counts, index=[f"k{i}" for i in range(len(counts))], name="n"))
    _assert_protected(s)


@FEW
@given(two_way_tables(max_rows=4, max_cols=4, high=200))
def test_primary_only_tables_are_flagged_by_the_checker_when_recoverable(table):
    """Hiding only the small cells leaves recoverable cells exactly where the equations say so."""
    s = d.suppress(table)
    primary_only = s.counts.astype("Float64").mask(s.primary).stack(future_stack=True).rename("n")
    release = primary_only.rename_axis(["row", "column"]).reset_index()
    report = d.check_table(release, count_cols="n", margins=("row", "column"), label_cols=["row", "column"])
    flagged = sorted(v.cell for v in report.violations if v.rule == "complementary")
    values, mask = s.counts.to_numpy(dtype=float), s.primary.to_numpy()
    n_cols = values.shape[1]
    expected = sorted(f"row={s.counts.index[k // n_cols]}, column={s.counts.columns[k % n_cols]}"
                      for k in _recoverable_by_equations(values, mask, one_way=False))
    assert flagged == expected


# -------------------------------------------------------------------------------- rounding properties


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**7))
def test_round_count_properties(x):
    r = d.round_count(x)
    unit = 10 if x < 1000 else 100
    assert r % unit == 0 and abs(r - x) <= unit // 2
    assert d.round_count(r) == r  # idempotent: rounding a published count changes nothing
    assert d.round_count(x + 1) >= r  # monotone


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**7))
def test_round_count_rejects_every_negative(x):
    with pytest.raises(ValueError, match=f"-{x}"):
        d.round_count(-x)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5000), st.integers(0, 5000))
def test_safe_percent_is_from_rounded_parts_and_never_0_or_100(a, b):
    num, den = min(a, b), max(a, b)
    p = d.safe_percent(num, den)
    if math.isnan(p):
        return
    assert 0 < p < 100
    assert num >= 10 and den >= 10
    assert abs(p - 100 * d.round_count(num) / d.round_count(den)) <= 0.05 + 1e-9
    assert round(p, 1) == p


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 200_000), min_size=10, max_size=200))
def test_fuzzy_percentiles_are_ordered_rounded_and_inside_the_data(values):
    f = d.fuzzy_percentiles(values)
    assert list(f.index) == ["min", "q1", "median", "q3", "max"]
    assert (np.diff(f.to_numpy()) >= 0).all()
    assert (f % 100 == 0).all()
    assert f["min"] >= min(values) - 50 and f["max"] <= max(values) + 50


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-100, 1100, allow_nan=False), min_size=10, max_size=300))
def test_safe_histogram_bins_meet_the_minimum(values):
    h = d.safe_histogram(values, edges=[0, 100, 200, 300, 500, 1000])
    assert (h["count"] >= 10).all()
    assert abs(int(h["count"].sum()) - len(values)) <= 5 * len(h)
    assert (h["left"].to_numpy()[1:] == h["right"].to_numpy()[:-1]).all()
