"""The parent's employer x quarter accumulator: small types while they fit, exact sums when they do not."""

import types

import numpy as np
import pyarrow as pa

from synthetic_data._calendar import Calendar
from synthetic_data._columns import fixed_width
from synthetic_data._database import EmployerQuarter
from synthetic_data._schema import tables


def _world(accounts, T):
    accounts = np.array(accounts)
    return types.SimpleNamespace(employers={"ui_account": accounts}, T=T, cal=Calendar(2014, T),
                                 codes={"ui_account": fixed_width(accounts, 10)})


def _partial(emp, q, m, wages):
    emp, q = np.array(emp), np.array(q)
    return {"employer": emp, "q": q, "m1": np.array(m), "m2": np.array(m) + 1, "m3": np.array(m) + 2,
            "wages": np.array(wages, dtype=np.int64)}


def test_sums_widen_instead_of_overflowing():
    eq = EmployerQuarter(_world(["1700000002", "1700000001", "1800000003"], 5))
    assert eq.m1.dtype == np.uint16 and eq.wages.dtype == np.uint32
    eq.add(_partial([0, 2], [1, 4], [60_000, 3], [4_000_000_000, 7]))
    eq.add(_partial([0, 1], [1, 0], [60_000, 5], [4_000_000_000, 9]))    # both overflow their small types
    assert eq.m1.dtype == np.int32 and eq.wages.dtype == np.int64
    assert eq.m1[0, 1] == 120_000 and eq.m3[0, 1] == 120_004 and eq.wages[0, 1] == 8_000_000_000
    assert eq.m1[2, 4] == 3 and eq.wages[1, 0] == 9


def test_table_is_the_paid_cells_by_account_then_quarter():
    accounts = ["1700000002", "1700000001", "1800000003"]
    eq = EmployerQuarter(_world(accounts, 8))
    eq.add(_partial([0, 2, 1, 0], [5, 4, 0, 1], [2, 3, 4, 5], [10, 20, 30, 40]))
    eq.add(_partial([0, 2], [5, 7], [1, 1], [5, 0]))                     # a cell with no wages is not paid
    t = eq.table()
    assert t.schema == tables()["employer_quarter"].arrow_schema
    assert t.column("ui_account").to_pylist() == ["1700000001", "1700000002", "1700000002", "1800000003"]
    assert t.column("year").to_pylist() == [2014, 2014, 2015, 2015]
    assert t.column("quarter").to_pylist() == [1, 2, 2, 1]
    assert t.column("month1_emplvl").to_pylist() == [4, 5, 3, 3]
    assert t.column("month3_emplvl").to_pylist() == [6, 7, 7, 5]
    assert t.column("total_qtr_wages").to_pylist() == [30, 40, 15, 20]
    assert t.column("ui_account").type == pa.string() and t.column("ui_account").null_count == 0
    assert list(eq.march_employment()) == [0, 6, 5]      # month 3 of the last first quarter paid (none, 0, 4)
