"""Unit tests for statelab.linkage: SSN rules, deterministic and probabilistic links, evaluation."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from statelab import linkage

# ----------------------------------------------------------------------------------------- SSNs
def test_ssn_rules_are_the_identifiers_module():
    """Module 3 calls linkage.ssn_status_sql and friends: they are the one rule, not a copy of it."""
    from statelab import identifiers

    for name in ("ssn_status_sql", "clean_ssn_sql", "ssn_status", "clean_ssn"):
        assert getattr(linkage, name) is getattr(identifiers, name)


# ---------------------------------------------------------------------------------- deterministic
@pytest.fixture()
def small_con():
    con = duckdb.connect()
    con.sql("""
        CREATE TABLE src AS SELECT * FROM (VALUES
            (1, '900000001', 'ANA', 'LEE', DATE '1990-01-01'),
            (2, '900000002', 'BO', 'KIM', DATE '1985-05-05'),
            (3, NULL, 'CY', 'RAY', DATE '1970-07-07'),
            (4, NULL, NULL, NULL, NULL),
            (5, '900000005', 'DI', 'FOX', DATE '2000-02-02')
        ) AS t(record_id, ssn, first_name, last_name, dob)
    """)
    con.sql("""
        CREATE TABLE tgt AS SELECT * FROM (VALUES
            (10, '900000001', 'ANA', 'LEE', NULL),
            (11, '900000001', 'ANNA', 'LEE', NULL),
            (12, '900000002', 'ZED', 'ZOO', NULL),
            (13, NULL, 'CY', 'RAY', DATE '1970-07-07'),
            (14, NULL, NULL, NULL, NULL),
            (15, '900000002', 'BO', 'KIM', NULL)
        ) AS t(record_id, ssn, first_name, last_name, dob)
    """)
    yield con
    con.close()


def test_exact_rule_keeps_every_target_and_never_matches_null(small_con):
    out = linkage.deterministic_link(small_con, "src", "tgt", rules={"ssn": ["ssn"]})
    assert list(out.columns) == ["source_record_id", "target_record_id", "rule", "rule_order"]
    assert sorted(zip(out.source_record_id, out.target_record_id)) == [(1, 10), (1, 11), (2, 12), (2, 15)]
    assert set(out["rule"]) == {"ssn"}


def test_waterfall_offers_only_unlinked_records_to_later_rules(small_con):
    rules = {"ssn+names": ["ssn", "first_name", "last_name"], "ssn": ["ssn"], "names+dob": ["first_name", "last_name", "dob"]}
    out = linkage.deterministic_link(small_con, "src", "tgt", rules=rules)
    got = {(r.source_record_id, r.target_record_id): r.rule_order for r in out.itertuples()}
    # record 1: linked by rule 1 to 10 only (11 has another first name, and rule 2 never sees record 1)
    # record 2: rule 1 finds 15; record 3: only names + dob; record 4 (all NULL) and 5: never
    assert got == {(1, 10): 1, (2, 15): 1, (3, 13): 3}


def test_rules_as_a_list(small_con):
    out = linkage.deterministic_link(small_con, "src", "tgt", rules=[["ssn", "last_name"], "first_name"])
    assert set(out["rule"]) == {"ssn+last_name", "first_name"}


@pytest.mark.parametrize("rules, error", [({}, ValueError), ({"x": []}, ValueError), ("ssn", TypeError),
                                         ({"x": ["ssn = 1 OR 1"]}, ValueError)])
def test_bad_rules_are_refused(small_con, rules, error):
    with pytest.raises(error):
        linkage.deterministic_link(small_con, "src", "tgt", rules=rules)


def test_bad_table_name_is_refused(small_con):
    with pytest.raises(ValueError, match="src x"):
        linkage.deterministic_link(small_con, "src x", "tgt", rules={"ssn": ["ssn"]})


# ---------------------------------------------------------------------------------- probabilistic
def test_settings_follow_the_available_columns():
    full = linkage.describe_settings(linkage.splink_settings())
    assert list(full.columns) == ["part", "name", "detail"]
    assert set(full.loc[full.part == "comparison", "name"]) == {"ssn", "first_name", "last_name", "dob"}
    no_dob = linkage.describe_settings(linkage.splink_settings(dob=None))
    assert "dob" not in set(no_dob["name"])
    assert not no_dob["detail"].str.contains("dob").any()
    custom = linkage.describe_settings(linkage.splink_settings(blocking=[["last_name"]]))
    assert (custom["part"] == "blocking rule").sum() == 1


def test_ssn_blocking_pieces_survive_any_one_wrong_digit():
    """Every single-digit SSN typo leaves one blocking piece intact, and each piece keeps at least six digits
    that vary between people (a shorter one, such as the area and group, is shared by thousands)."""
    import duckdb

    rules = linkage.describe_settings(linkage.splink_settings())
    pieces = [r for r in rules.loc[rules.part == "blocking rule", "detail"] if "SUBSTRING" in r]
    assert len(pieces) >= 2, pieces
    con = duckdb.connect()
    ssn = "900123456"
    for pos in range(9):
        typo = ssn[:pos] + str((int(ssn[pos]) + 1) % 10) + ssn[pos + 1:]
        agree = [con.execute("SELECT " + rule.replace("l.ssn", f"'{ssn}'").replace("r.ssn", f"'{typo}'"))
                 .fetchall()[0][0] for rule in pieces]
        assert any(agree), f"a typo at digit {pos + 1} escapes every SSN piece"
    for rule in pieces:
        piece = rule.split(" = ")[0].replace("l.ssn", f"'{ssn}'")
        kept = con.execute(f"SELECT {piece}").fetchall()[0][0]
        varying = len(kept) - (3 if kept.startswith(ssn[:3]) else 0)   # the area digits barely vary
        assert varying >= 4 and (len(kept) >= 6 or kept == ssn[5:]), rule
    con.close()


@pytest.mark.parametrize("kwargs", [dict(ssn_distance=0), dict(name_thresholds=[1.5]), dict(blocking=[[]]),
                                    dict(ssn=None, first_name=None, last_name=None, dob=None),
                                    dict(ssn="s s")])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        linkage.splink_settings(**kwargs)


def test_describe_settings_needs_settings():
    with pytest.raises(TypeError, match="SettingsCreator"):
        linkage.describe_settings({"link_type": "link_only"})


@pytest.fixture(scope="module")
def tiny_tables(tiny_dataset):
    """A workspace on tiny with the lesson's two prepared tables: completers and wage identities."""
    import synthetic_data as sd

    con = sd.connect(tiny_dataset)
    con.sql(f"""
        CREATE TABLE completers AS
        SELECT record_id, {linkage.clean_ssn_sql('ssn')} AS ssn, UPPER(first_name) AS first_name,
               UPPER(last_name) AS last_name, dob
        FROM postsec_completion
    """)
    con.sql(f"""
        CREATE TABLE wage_people AS
        WITH ids AS (
            SELECT {linkage.clean_ssn_sql('ssn')} AS ssn, UPPER(first_name) AS first_name,
                   UPPER(last_name) AS last_name, MIN(record_id) AS record_id
            FROM ui_wage GROUP BY ALL
        ),
        dobs AS (SELECT ssn, UPPER(last_name) AS last_name, MIN(dob) AS dob FROM ui_claim GROUP BY ALL)
        SELECT ids.*, dobs.dob FROM ids LEFT JOIN dobs USING (ssn, last_name)
    """)
    yield con
    con.close()


@pytest.fixture(scope="module")
def model(tiny_tables):
    return linkage.probabilistic_link(tiny_tables, "completers", "wage_people")


def test_probabilistic_link_returns_scored_pairs(tiny_tables, model):
    pairs = model.pairs
    assert list(pairs.columns[:4]) == ["source_record_id", "target_record_id", "match_weight", "match_probability"]
    for col in ("ssn_l", "ssn_r", "dob_l", "dob_r", "mw_ssn", "gamma_last_name"):
        assert col in pairs.columns
    assert pairs["match_probability"].between(0.01, 1).all()
    src = set(tiny_tables.sql("SELECT record_id FROM completers").df()["record_id"])
    tgt = set(tiny_tables.sql("SELECT record_id FROM wage_people").df()["record_id"])
    assert set(pairs["source_record_id"]) <= src and set(pairs["target_record_id"]) <= tgt
    # the source is on the left: its SSN is the completer's
    ssn = tiny_tables.sql("SELECT record_id, ssn FROM completers").df().set_index("record_id")["ssn"]
    left = ssn.loc[pairs["source_record_id"]].to_numpy()
    same = pd.isna(left) & pairs["ssn_l"].isna().to_numpy() | (left == pairs["ssn_l"].to_numpy())
    assert same.all()
    # probability and weight agree, and the weight is the prior plus the partial weights
    p = 2.0 ** pairs["match_weight"] / (1 + 2.0 ** pairs["match_weight"])
    assert np.allclose(p, pairs["match_probability"], atol=1e-9)
    parts = pairs.filter(regex="^mw_").sum(axis=1) + model.prior_weight
    assert np.allclose(parts, pairs["match_weight"], atol=1e-6)
    assert pairs.groupby("source_record_id")["match_probability"].apply(lambda s: s.is_monotonic_decreasing).all()


def test_probabilistic_parameters(model):
    params = model.parameters
    assert list(params.columns) == ["comparison", "level", "m_probability", "u_probability", "match_weight"]
    assert set(params["comparison"]) == {"ssn", "first_name", "last_name", "dob"}
    assert 0 < model.prior < 1 and model.prior_weight < 0
    exact = params[params["level"].str.startswith("Exact match")].set_index("comparison")["match_weight"]
    other = params[params["level"] == "All other comparisons"].set_index("comparison")["match_weight"]
    assert (exact > 0).all() and (other.dropna() < 0).all()


def test_probabilistic_link_is_repeatable_quiet_and_leaves_no_tables(tiny_tables, model, capfd):
    before = set(tiny_tables.sql("SHOW ALL TABLES").df()["name"])
    again = linkage.probabilistic_link(tiny_tables, "completers", "wage_people")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == "", "Splink should run silently"
    assert set(tiny_tables.sql("SHOW ALL TABLES").df()["name"]) == before
    pd.testing.assert_frame_equal(again.pairs.drop(columns=["match_weight", "match_probability"]),
                                  model.pairs.drop(columns=["match_weight", "match_probability"]))
    assert np.allclose(again.pairs["match_probability"], model.pairs["match_probability"], atol=1e-9)


def test_probabilistic_link_input_errors(tiny_tables):
    with pytest.raises(ValueError, match="no id column"):
        linkage.probabilistic_link(tiny_tables, "completers", "wage_people", source_id="student_id")
    with pytest.raises(ValueError, match="prior_recall"):
        linkage.probabilistic_link(tiny_tables, "completers", "wage_people", prior_recall=0)


# ------------------------------------------------------------------------------------- evaluation
@pytest.fixture()
def true_pairs(tiny_con):
    """Every completion paired with one wage record of the same person (a perfect linkage)."""
    return tiny_con.sql("""
        SELECT c.record_id AS source_record_id, MIN(w.record_id) AS target_record_id, 1.0 AS match_probability
        FROM truth.crosswalk AS c
        JOIN truth.crosswalk AS w ON w.source_table = 'ui_wage' AND w.person_id = c.person_id
        WHERE c.source_table = 'postsec_completion'
        GROUP BY c.record_id
    """).df()


def test_quality_of_a_perfect_linkage(tiny_con, true_pairs):
    q = linkage.linkage_quality(true_pairs, tiny_con, source_table="postsec_completion", target_table="ui_wage")
    n = tiny_con.sql("SELECT COUNT(*) FROM statelab.postsec_completion").fetchall()[0][0]
    assert q["source_records"] == n
    assert q["linked"] == q["linkable"] == q["true_links"] == len(true_pairs)
    assert q["precision"] == q["recall"] == q["f1"] == 1.0


def test_one_wrong_target_makes_the_record_a_false_link(tiny_con, true_pairs):
    first, second = true_pairs.iloc[0], true_pairs.iloc[1]
    wrong = pd.DataFrame({"source_record_id": [first.source_record_id],
                          "target_record_id": [second.target_record_id], "match_probability": [0.95]})
    pairs = pd.concat([true_pairs, wrong], ignore_index=True)
    q = linkage.linkage_quality(pairs, tiny_con, source_table="postsec_completion", target_table="ui_wage")
    assert q["false_links"] == 1 and q["true_links"] == len(true_pairs) - 1
    assert q["precision"] == pytest.approx((len(true_pairs) - 1) / len(true_pairs))
    # a threshold above the wrong pair's probability removes it
    q = linkage.linkage_quality(pairs, tiny_con, source_table="postsec_completion", target_table="ui_wage",
                                threshold=0.99)
    assert q["false_links"] == 0


def test_quality_on_a_subset_and_with_nothing_linked(tiny_con, true_pairs):
    subset = true_pairs["source_record_id"].iloc[:5]
    q = linkage.linkage_quality(true_pairs, tiny_con, source_table="postsec_completion", target_table="ui_wage",
                                source_records=subset)
    assert q["source_records"] == 5 and q["true_links"] == 5
    empty = true_pairs.iloc[:0]
    q = linkage.linkage_quality(empty, tiny_con, source_table="postsec_completion", target_table="ui_wage")
    assert q["linked"] == 0 and np.isnan(q["precision"]) and q["recall"] == 0


def test_quality_errors(tiny_con, tiny_dataset, true_pairs):
    import synthetic_data as sd

    kw = dict(source_table="postsec_completion", target_table="ui_wage")
    no_truth = sd.connect(tiny_dataset)
    with pytest.raises(ValueError, match="truth=True"):
        linkage.linkage_quality(true_pairs, no_truth, **kw)
    no_truth.close()
    with pytest.raises(ValueError, match="'wages'"):
        linkage.linkage_quality(true_pairs, tiny_con, source_table="postsec_completion", target_table="wages")
    with pytest.raises(ValueError, match="match_probability"):
        linkage.linkage_quality(true_pairs.drop(columns="match_probability"), tiny_con, threshold=0.5, **kw)
    with pytest.raises(TypeError):
        linkage.linkage_quality(true_pairs.to_dict(), tiny_con, **kw)
    with pytest.raises(ValueError, match="threshold"):
        linkage.linkage_quality(true_pairs, tiny_con, threshold=2, **kw)
    bad = true_pairs.assign(target_record_id=-1)
    with pytest.raises(ValueError, match="target ids"):
        linkage.linkage_quality(bad, tiny_con, **kw)


# ----------------------------------------------------------------------------- review_table
def test_review_table_puts_the_two_records_of_a_pair_one_above_the_other():
    pairs = pd.DataFrame(
        {"dob_w": [5.0, -1.0], "first_name_l": ["ANA", "BO"], "first_name_r": ["ANNA", "BO"],
         "dob_l": ["1990-01-01", "1985-02-02"], "dob_r": ["1990-01-01", None], "first_name_w": [3.2, 7.1]},
        index=["2. probability 0.6", "1. probability 0.9"])
    rows = {"l": "completer", "r": "wage identity", "w": "partial weight"}
    shown = linkage.review_table(pairs, rows=rows, labels={"dob": "Date of birth"}).data
    # pairs keep their order; within a pair the rows follow `rows`, whatever the column order
    assert list(shown.index) == [(p, r) for p in pairs.index for r in rows.values()]
    assert shown.loc[("1. probability 0.9", "wage identity"), "first_name"] == "BO"
    assert pd.isna(shown.loc[("1. probability 0.9", "wage identity"), "dob"])
    assert shown.loc[("2. probability 0.6", "partial weight"), "first_name"] == 3.2
    html = linkage.review_table(pairs, rows=rows, labels={"dob": "Date of birth"}, caption="Two pairs").to_html()
    assert "Date of birth" in html and "Two pairs" in html


def test_review_table_names_columns_it_cannot_place():
    pairs = pd.DataFrame({"first_name_l": ["A"], "first_name_r": ["B"], "match_probability": [0.5]})
    with pytest.raises(ValueError, match=r"\['match_probability'\].*rows=\['l', 'r'\]"):
        linkage.review_table(pairs, rows={"l": "source", "r": "target"})
