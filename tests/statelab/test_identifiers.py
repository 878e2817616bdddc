"""statelab.identifiers: one SSN rule, whose SQL and pandas forms agree, covering every planted placeholder.

The hand-written cases are read off the rule in the module docstring; the property test draws strings from
the characters that matter (digits, dashes, spaces, letters, a non-ASCII digit, a tab) and requires the
DuckDB evaluation of the SQL and the pandas function to return the same status and the same clean value.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthetic_data as sd
from statelab import identifiers as ids

# value -> status under the course rule, each chosen to exercise one clause
CASES = {
    "900123456": "valid",             # a never-issued area is valid in the course (every synthetic SSN is one)
    "000123456": "valid",
    "666123456": "valid",
    "212345678": "valid",
    "900-12-3456": "valid",            # dashes and spaces are removed first
    " 900 12 3456 ": "valid",
    "900003456": "malformed",          # group 00 is never issued
    "900120000": "malformed",          # serial 0000 is never issued
    "90012345": "malformed",           # eight digits
    "9001234567": "malformed",
    "90012345X": "malformed",
    "90012345\u0663": "malformed",     # an Arabic-Indic digit is not an ASCII digit
    "\t900123456": "malformed",        # only spaces and dashes are removed
    "999999999": "placeholder",
    "123456789": "placeholder",
    "999-99-9998": "placeholder",
    "": "missing",
    "  ": "missing",
    "--": "missing",
    None: "missing",
}


def _sql_status(values, **options):
    con = duckdb.connect()
    try:
        con.register("v", pd.DataFrame({"i": range(len(values)), "ssn": pd.Series(values, dtype=object)}))
        return con.sql(f"SELECT {ids.ssn_status_sql('ssn', **options)} AS status, "
                       f"{ids.clean_ssn_sql('ssn', **options)} AS clean FROM v ORDER BY i").df()
    finally:
        con.close()


def test_hand_cases_in_pandas_and_sql():
    values = list(CASES)
    assert ids.ssn_status(values).tolist() == list(CASES.values())
    assert _sql_status(values)["status"].tolist() == list(CASES.values())


def test_never_issued_is_an_option_for_real_data():
    values = ["000123456", "666123456", "900123456", "212345678", "665123456", "999999999"]
    want = ["never_issued", "never_issued", "never_issued", "valid", "valid", "placeholder"]
    assert ids.ssn_status(values, reject_never_issued=True).tolist() == want
    assert _sql_status(values, reject_never_issued=True)["status"].tolist() == want
    assert set(ids.NEVER_ISSUED_AREAS) == {"000", "666"} | {str(a) for a in range(900, 1000)}


def test_vocabulary_and_placeholders():
    assert set(ids.ssn_status(list(CASES))) <= set(ids.SSN_STATUSES)
    assert set(ids.SSN_STATUSES) - {"valid"} < set(ids.KEY_STATUSES)
    assert all(len(p) == 9 and p.isdigit() for p in ids.PLACEHOLDER_SSNS)
    # every placeholder is classified as one (none is also malformed)
    assert ids.ssn_status(list(ids.PLACEHOLDER_SSNS)).eq("placeholder").all()


def test_every_planted_placeholder_is_in_the_list():
    assert sd.PLANTED_PLACEHOLDER_SSNS, "the generator should say which placeholders it plants"
    assert set(sd.PLANTED_PLACEHOLDER_SSNS) <= set(ids.PLACEHOLDER_SSNS)


def test_clean_ssn_keeps_index_and_only_valid_values():
    s = pd.Series(["900-12-3456", "999999999", None, "900003456"], index=[5, 6, 7, 8])
    out = ids.clean_ssn(s)
    assert list(out.index) == [5, 6, 7, 8]
    assert out.tolist()[0] == "900123456" and out.iloc[1:].isna().all()


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="strings"):
        ids.ssn_status([900123456])
    with pytest.raises(TypeError, match="one string"):
        ids.ssn_status("900123456")
    with pytest.raises(ValueError, match="column"):
        ids.ssn_status_sql("ssn; DROP TABLE x")
    with pytest.raises(TypeError, match="reject_never_issued"):
        ids.ssn_status_sql("ssn", reject_never_issued="yes")


def test_key_status_adds_conflicting_and_shared():
    con = duckdb.connect()
    try:
        got = con.sql(f"""
            SELECT {ids.key_status_sql('ssn', conflicting='n_values > 1', shared='units > 3')} AS s
            FROM (VALUES ('900123456', 1, 1), ('900123456', 2, 1), ('900123456', 1, 5), ('999999999', 2, 9),
                         (NULL, 1, 1)) AS t(ssn, n_values, units)
        """).df()["s"].tolist()
    finally:
        con.close()
    assert got == ["usable", "conflicting", "shared", "placeholder", "missing"]


_CHARS = st.sampled_from(list("0123456789") * 4 + ["-", " ", "X", "\u0663", "\t", "."])
_NEAR_SSNS = st.one_of(
    st.text(_CHARS, max_size=13),
    st.builds(lambda d: "".join(d), st.lists(st.sampled_from("0123456789"), min_size=9, max_size=9)),
    st.sampled_from(ids.PLACEHOLDER_SSNS),
    st.builds(lambda a, g, s: f"{a}-{g}-{s}", st.sampled_from(["000", "666", "900", "212", "999"]),
              st.sampled_from(["00", "01", "45"]), st.sampled_from(["0000", "0001", "6789"])),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NEAR_SSNS, min_size=1, max_size=30), st.booleans())
def test_pandas_and_sql_agree(values, reject):
    sql = _sql_status(values, reject_never_issued=reject)
    assert ids.ssn_status(values, reject_never_issued=reject).tolist() == sql["status"].tolist()
    py_clean = ids.clean_ssn(values, reject_never_issued=reject)
    assert [None if pd.isna(v) else v for v in py_clean] == [None if pd.isna(v) else v for v in sql["clean"]]


def test_true_ssns_are_valid_and_statuses_cover_the_wage_file(tiny_con):
    true = tiny_con.sql("SELECT ssn FROM truth.person").df()["ssn"]
    assert ids.ssn_status(true).eq("valid").all()
    counts = tiny_con.sql(f"SELECT {ids.ssn_status_sql('ssn')} AS s, COUNT(*) AS n FROM ui_wage GROUP BY s").df()
    assert set(counts["s"]) <= set(ids.SSN_STATUSES) and "placeholder" in set(counts["s"])
