"""statelab.reveal: the answer key opens only outside the published book, and its readers compute what they say.

The readers are checked on a hand-built database whose truth is small enough to work out by hand, and
``open_answer_key`` on the tiny dataset with and without its truth.
"""

import shutil

import duckdb
import pandas as pd
import pytest

from statelab import reveal


@pytest.fixture()
def key():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA truth")
    con.execute("CREATE TABLE truth.crosswalk (source_table VARCHAR, record_id BIGINT, person_id BIGINT)")
    con.executemany("INSERT INTO truth.crosswalk VALUES (?, ?, ?)", [
        ("wioa", 1, 100), ("wioa", 2, 200), ("wioa", 3, 300),
        ("ui_claim", 11, 100), ("ui_claim", 12, 100), ("ui_claim", 13, 200), ("ui_claim", 14, 400),
    ])
    con.execute("CREATE TABLE truth.earnings (person_id BIGINT, year INTEGER, quarter INTEGER, "
                "earnings DOUBLE, out_of_region_earnings DOUBLE)")
    con.executemany("INSERT INTO truth.earnings VALUES (?, ?, ?, ?, ?)", [
        (100, 2021, 3, 5000.0, 0.0),     # record 1 exits 2021Q1: 2nd quarter after is 2021Q3
        (100, 2021, 3, 1000.0, 1000.0),  # a second job, out of the region: not counted
        (100, 2021, 2, 9999.0, 0.0),     # the 1st quarter after: not counted
        (200, 2022, 1, 3000.0, 0.0),     # record 2 exits 2021Q3: 2nd quarter after is 2022Q1
    ])
    for table in ("wioa", "ui_claim"):
        con.execute(f"CREATE TABLE {table} (record_id BIGINT, ssn VARCHAR, first_name VARCHAR, "
                    "last_name VARCHAR, dob DATE)")
    con.executemany("INSERT INTO wioa VALUES (?, ?, ?, ?, ?)", [
        (1, "900000001", "ANA", "DIAZ", "1980-01-01"), (2, None, "BO", "LEE", "1990-05-05"),
        (3, "900000003", "CY", "NG", "1970-02-02")])
    con.executemany("INSERT INTO ui_claim VALUES (?, ?, ?, ?, ?)", [
        (11, "900000001", "ana ", "DIAZ", "1980-01-01"), (12, "900000007", "ANNA", "DIAZ", "1980-01-01"),
        (13, "900000002", "BO", "LEE", None), (14, "900000004", "DEE", "OH", "1960-03-03")])
    yield con
    con.close()


def test_true_pairs_are_the_records_of_one_person(key):
    pairs = reveal.true_pairs(key, "wioa", "ui_claim")
    assert list(pairs.columns) == ["wioa_id", "ui_claim_id"]
    assert list(pairs.itertuples(index=False, name=None)) == [(1, 11), (1, 12), (2, 13)]


def test_how_true_pairs_differ_counts_each_identifier(key):
    row = reveal.how_true_pairs_differ(key, "wioa", "ui_claim").iloc[0]
    # (1, 11): same SSN, names equal after trim and case, same DOB; (1, 12): SSN and first name differ;
    # (2, 13): SSN missing on the WIOA side, DOB missing on the claim side
    assert row.to_dict() == {"true_pairs": 3, "ssn_missing_on_a_side": 1, "ssn_differs": 1,
                             "name_differs": 1, "dob_differs": 1}


def test_true_earnings_after_exit_reads_the_right_quarter_in_the_region(key):
    exits = pd.DataFrame({"record_id": [1, 2, 3], "exit_year": [2021, 2021, 2021], "exit_quarter": [1, 3, 1]})
    got = reveal.true_earnings_after_exit(key, exits).set_index("record_id")["true_earnings"].to_dict()
    assert got == {1: 5000.0, 2: 3000.0, 3: 0.0}
    first = reveal.true_earnings_after_exit(key, exits, quarters_after=1).set_index("record_id")["true_earnings"]
    assert first.to_dict() == {1: 9999.0, 2: 0.0, 3: 0.0}
    with pytest.raises(KeyError, match="exit_quarter"):
        reveal.true_earnings_after_exit(key, exits.drop(columns="exit_quarter"))


def test_an_unknown_table_is_named(key):
    with pytest.raises(ValueError, match="'claims'"):
        reveal.true_pairs(key, "wioa", "claims")


def test_the_published_book_gets_no_answer_key(tiny_dataset, monkeypatch, capsys):
    monkeypatch.setenv("STATELAB_BOOK_BUILD", "1")
    assert reveal.in_published_book()
    assert reveal.open_answer_key(profile="tiny", data_root=tiny_dataset.parent) is None
    assert reveal.BOOK_BUILD_MESSAGE in capsys.readouterr().out


def test_the_answer_key_opens_for_an_instructor_and_not_without_truth(tiny_dataset, tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.delenv("STATELAB_BOOK_BUILD", raising=False)
    con = reveal.open_answer_key(profile="tiny", data_root=tiny_dataset.parent)
    assert con is not None
    pairs = reveal.true_pairs(con, "wioa", "ui_claim")
    crosswalk = con.sql("SELECT * FROM truth.crosswalk").df()
    con.close()
    person = crosswalk.set_index(["source_table", "record_id"])["person_id"]
    assert len(pairs) > 0
    assert (pairs["wioa_id"].map(person.loc["wioa"]).to_numpy()
            == pairs["ui_claim_id"].map(person.loc["ui_claim"]).to_numpy()).all()
    # a learner server: the same dataset without its truth folder
    learner = tmp_path / tiny_dataset.name
    shutil.copytree(tiny_dataset, learner, ignore=shutil.ignore_patterns("truth*"))
    assert reveal.open_answer_key(profile="tiny", data_root=tmp_path) is None
    assert reveal.NO_KEY_MESSAGE in capsys.readouterr().out
