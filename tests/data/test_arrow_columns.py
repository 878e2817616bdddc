"""The fast paths that assemble identity columns give the same Arrow arrays as plain conversion."""

import numpy as np
import pyarrow as pa
import pytest

from synthetic_data import _reference as ref
from synthetic_data._columns import Take, arrow_table, fixed_width, labels
from synthetic_data._partition import _pooled


def _plain(values, index):
    return pa.array(np.asarray(values, dtype=object), pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def _fast(values, index, width):
    return arrow_table("ui_wage", {**_filler(len(index)), "ssn": Take(values, index, width=width)}).column("ssn").chunk(0)


def _filler(n):
    """Every other ui_wage column, so that ``_arrow`` can build the table around the one under test."""
    z = np.zeros(n, dtype=np.int64)
    text = Take(np.array(["x"], dtype=object), z)
    return {"record_id": z, "state_fips": text, "first_name": text, "middle_initial": text, "last_name": text,
            "ui_account": text, "reporting_unit": text, "ein": text, "year": z.astype(np.int16),
            "quarter": z.astype(np.int8), "wages": z}


@pytest.mark.parametrize("case", ["with_nulls", "no_nulls", "constant", "empty"])
def test_fixed_width_take_equals_a_take_of_strings(case):
    rng = np.random.default_rng(3)
    values = np.array([f"{v:09d}" for v in rng.integers(0, 10**9, 500)], dtype=object)
    if case == "with_nulls":
        values[rng.random(500) < 0.2] = None
    if case == "constant":
        values = np.array(["123456789"], dtype=object)
    n = 0 if case == "empty" else 3_000
    index = rng.integers(0, len(values), n)
    got, want = _fast(values, index, 9), _plain(values, index)
    assert got.equals(want)
    assert got.null_count == want.null_count
    assert got.to_pylist() == want.to_pylist()


def test_fixed_width_rejects_a_code_of_another_length():
    with pytest.raises(ValueError, match="'12345'"):
        fixed_width(np.array(["123456789", "12345"], dtype=object), 9)


def test_pooled_names_keep_altered_values():
    pools = ref.name_pools()
    codes = np.array([0, 1, 2, 3, 1], dtype=np.int64)
    values = pools.names[codes].copy()
    values[1] = values[1] + "x"                  # a typo
    values[4] = "Zzyzx"                           # a name from nowhere in the pools
    array, index = _pooled(values, codes)
    assert array.take(pa.array(index)).to_pylist() == list(values)
    assert (index[[0, 2, 3]] == codes[[0, 2, 3]]).all()   # unaltered names stay codes into the pools


def test_labels_equal_the_strings_they_code():
    values = np.array(["UI", "PEUC", "UI", "EB", "PUA"])
    t = labels(values, ("UI", "PUA", "PEUC", "EB"))
    assert t.values[t.index].tolist() == values.tolist()
    assert labels(values[:0], ("UI",)).index.tolist() == []


def test_labels_reject_a_value_that_is_not_a_choice():
    with pytest.raises(ValueError, match="'XX' is not one of"):
        labels(np.array(["UI", "XX"]), ("UI", "EB"))
