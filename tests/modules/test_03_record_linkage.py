"""Module 3 (the data model and record linkage): the two lessons' results, tied to the hidden truth.

Each lesson's code cells are run here, in this process, on the tiny profile (the `parameters` cell is
replaced), lesson 1 (records, people and links) and lesson 2 (linking completers to wage records) each in
its own namespace, and what they leave behind -- workspace tables and Python variables -- is checked
against the truth (`truth.crosswalk`: which person each record is about; `truth.wioa_effect`: each period of WIOA
participation). What must hold:

* deduplication: one `wioa_period` row per true period of participation and one `dim_person` row per true
  participant, each participant identifier belonging to exactly one person;
* the star schema: the fact table's grain is person x quarter with every quarter present, and the quarters
  of participation equal those computed from the true entry and exit dates;
* linkage quality, judged per completer with `statelab.linkage.linkage_quality`:
  - the exact-SSN link is almost never wrong (precision >= 0.98): an SSN mistyped onto another
    person's number is rare in the noise model (about 1 % of identities per file);
  - the probabilistic link at the lesson's threshold keeps precision >= 0.95 (at most one completer in
    twenty credited with someone else's wages, a bias the employment rate can bear) and reaches
    recall >= 0.85. The exact SSN cannot reach every completer: about 30 % of college records carry no
    SSN. Names plus a date of birth from the claims file recover most of them, so the probabilistic
    recall must beat the exact-SSN recall by at least 0.10 (a third of the gap the missing SSNs open);
  - the ordered SSN-and-name rules sit between the two on recall;
* the cross-state answer: for every cohort completer whose outcome-quarter wage records the lesson's links
  reach exactly (the same records as the truth), the lesson's "works in the home state's file" and "works
  only in another state's file" flags equal the truth's; so each reported count differs from the truth's
  count by at most the number of completers the linkage got wrong -- which must be few -- and equals it
  when there are none.

No expected number is written down: everything is computed from the data and the truth.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import nbformat
import pandas as pd
import pytest

import synthetic_data as sd
from statelab import linkage

MODULE = Path(__file__).resolve().parents[2] / "modules" / "03-record-linkage"
MODEL_LESSON = MODULE / "01-records-and-people.ipynb"
LESSON = MODULE / "02-linking-records.ipynb"


def _code_cells(path: Path = LESSON) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", [MODEL_LESSON, LESSON], ids=lambda p: p.stem)
def test_lesson_never_opens_the_truth(path):
    for cell in _code_cells(path):
        assert "truth=True" not in cell.source.replace(" ", "")
        assert "truth." not in cell.source


def _run(path: Path, data_root) -> dict:
    """The namespace left by running every code cell of a lesson on the tiny profile."""
    matplotlib.use("Agg")
    ns: dict = {"__name__": "lesson"}
    for cell in _code_cells(path):
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            source = f"profile = 'tiny'\nseed = {sd.DEFAULT_SEED}\ndata_root = {str(data_root)!r}"
        exec(compile(source, str(path), "exec"), ns)
    return ns


@pytest.fixture(scope="module")
def model_lesson(tiny_data_root):
    ns = _run(MODEL_LESSON, tiny_data_root)
    yield ns
    ns["con"].close()


@pytest.fixture(scope="module")
def lesson(tiny_data_root):
    ns = _run(LESSON, tiny_data_root)
    yield ns
    ns["con"].close()


# ------------------------------------------------------------------------------ the data model
def test_deduplication_matches_the_true_periods_and_people(model_lesson, tiny_con):
    con = model_lesson["con"]
    periods = con.sql("SELECT unique_individual_id, entry_date FROM wioa_period").df()
    people = con.sql("SELECT unique_individual_id FROM dim_person").df()
    truth = tiny_con.sql("""
        SELECT w.unique_individual_id, w.entry_date, x.person_id
        FROM statelab.wioa AS w
        JOIN truth.crosswalk AS x ON x.source_table = 'wioa' AND x.record_id = w.record_id
    """).df()
    n_true_periods = tiny_con.sql("SELECT COUNT(*) FROM truth.wioa_effect").fetchall()[0][0]
    assert len(periods) == n_true_periods
    assert not periods.duplicated().any()
    assert len(people) == truth["person_id"].nunique()
    # the participant identifier is a person key: one person per identifier and one identifier per person
    assert (truth.groupby("unique_individual_id")["person_id"].nunique() == 1).all()
    assert (truth.groupby("person_id")["unique_individual_id"].nunique() == 1).all()


def test_returning_participants_are_the_true_repeat_periods(model_lesson, tiny_con):
    """Lesson 1 prints how many participants came back for a second period: the truth's repeat participants."""
    true = tiny_con.sql("""
        SELECT COUNT(*) FROM (SELECT person_id FROM truth.wioa_effect GROUP BY person_id HAVING COUNT(*) >= 2)
    """).fetchall()[0][0]
    assert model_lesson["returning"] == true
    assert true > 0, "the generator plants repeat periods of participation"


def test_fact_table_grain_and_participation(model_lesson, tiny_con):
    con = model_lesson["con"]
    n_people = con.sql("SELECT COUNT(*) FROM dim_person").fetchall()[0][0]
    quarters = con.sql("SELECT quarter_key FROM dim_quarter ORDER BY quarter_key").df()["quarter_key"]
    fact = con.sql("SELECT person_key, quarter_key, program_key, earnings, employed FROM fact_person_quarter").df()
    assert len(fact) == n_people * len(quarters)
    assert not fact.duplicated(["person_key", "quarter_key"]).any()
    assert list(quarters) == list(range(quarters.iloc[0], quarters.iloc[-1] + 1)), "a quarter is missing"
    assert (fact["employed"].isna() == fact["earnings"].isna()).all()

    # participation quarters from the true entry and exit dates, clipped to the data window
    true = tiny_con.sql("SELECT entry_date, exit_date FROM truth.wioa_effect").df()
    entry = pd.to_datetime(true["entry_date"])
    exit_ = pd.to_datetime(true["exit_date"])
    first_q = entry.dt.year * 4 + entry.dt.quarter - 1
    last_q = (exit_.dt.year * 4 + exit_.dt.quarter - 1).clip(upper=quarters.iloc[-1])
    assert int(fact["program_key"].notna().sum()) == int((last_q - first_q + 1).clip(lower=0).sum())


# ------------------------------------------------------------------------------ linkage quality
@pytest.fixture(scope="module")
def quality(lesson, tiny_dataset):
    con = sd.connect(tiny_dataset, truth=True)
    kw = dict(source_table="postsec_completion", target_table="ui_wage")
    out = {
        "exact": linkage.linkage_quality(lesson["exact_links"], con, **kw),
        "rules": linkage.linkage_quality(lesson["rule_links"], con, **kw),
        "probabilistic": linkage.linkage_quality(lesson["pairs"], con, threshold=lesson["threshold"], **kw),
    }
    con.close()
    return out


def test_quality_is_judged_on_every_completer(lesson, quality):
    n = lesson["con"].sql("SELECT COUNT(*) FROM postsec_completion").fetchall()[0][0]
    for q in quality.values():
        assert q["source_records"] == n
        assert 0 < q["linkable"] <= n


def test_exact_ssn_link_is_precise(quality):
    assert quality["exact"]["precision"] >= 0.98, quality["exact"]


def test_probabilistic_link_is_precise_and_finds_most_completers(quality):
    q = quality["probabilistic"]
    assert q["precision"] >= 0.95, q
    assert q["recall"] >= 0.85, q


def test_probabilistic_link_beats_exact_ssn_on_recall(quality):
    assert quality["probabilistic"]["recall"] >= quality["exact"]["recall"] + 0.10, quality
    assert quality["exact"]["recall"] <= quality["rules"]["recall"] <= quality["probabilistic"]["recall"], quality


def test_lesson_counts_match_its_pairs(lesson):
    """The method table's numbers are the distinct completers in each pairs table."""
    p = lesson["pairs"]
    assert lesson["n_linked_exact"] == lesson["exact_links"]["source_record_id"].nunique()
    assert lesson["n_linked_probabilistic"] == p.loc[p["match_probability"] >= lesson["threshold"],
                                                     "source_record_id"].nunique()


# ------------------------------------------------------------------------------ the cross-state answer
def _expected_cohort(tiny_con) -> pd.DataFrame:
    """The lesson's cohort, rebuilt in pandas from the learner tables."""
    c = tiny_con.sql("""
        SELECT c.record_id, c.academic_year, c.award_date, i.state_fips AS institution_state, i.sector
        FROM statelab.postsec_completion AS c JOIN statelab.institution AS i USING (institution_id)
    """).df()
    last_q = tiny_con.sql("SELECT MAX(year * 4 + quarter - 1) FROM statelab.ui_wage").fetchall()[0][0]
    award = pd.to_datetime(c["award_date"])
    c["outcome_q"] = award.dt.year * 4 + award.dt.quarter - 1 + 2
    cc = c[c["sector"] == "public_2yr"]
    followed = cc.groupby("academic_year")["outcome_q"].max()
    year = followed[followed <= last_q].index.max()
    return cc[cc["academic_year"] == year]


def test_cross_state_count_matches_the_truth(lesson, tiny_con):
    con = lesson["con"]
    cohort = _expected_cohort(tiny_con)
    assert len(cohort) > 0
    lesson_cohort = con.sql("SELECT record_id FROM cohort").df()["record_id"]
    assert sorted(lesson_cohort) == sorted(cohort["record_id"])

    tiny_con.register("expected_cohort", cohort[["record_id", "institution_state", "outcome_q"]])
    true_wages = tiny_con.sql("""
        SELECT c.record_id, w.record_id AS wage_record_id, w.state_fips, c.institution_state
        FROM expected_cohort AS c
        JOIN truth.crosswalk AS xc ON xc.source_table = 'postsec_completion' AND xc.record_id = c.record_id
        JOIN truth.crosswalk AS xw ON xw.source_table = 'ui_wage' AND xw.person_id = xc.person_id
        JOIN statelab.ui_wage AS w ON w.record_id = xw.record_id AND w.year * 4 + w.quarter - 1 = c.outcome_q
    """).df()
    tiny_con.unregister("expected_cohort")
    reached = con.sql("SELECT record_id, wage_record_id FROM cohort_wages WHERE method = 'probabilistic'").df()

    true_sets = true_wages.groupby("record_id")["wage_record_id"].agg(frozenset)
    reached_sets = reached.groupby("record_id")["wage_record_id"].agg(frozenset)
    ids = list(cohort["record_id"])
    perfect = {r for r in ids if true_sets.get(r, frozenset()) == reached_sets.get(r, frozenset())}

    home = true_wages["state_fips"] == true_wages["institution_state"]
    true_home = set(true_wages.loc[home, "record_id"])
    true_other = set(true_wages.loc[~home, "record_id"])
    truth = pd.DataFrame({"record_id": ids})
    truth["home"] = truth["record_id"].isin(true_home)
    truth["only_elsewhere"] = truth["record_id"].isin(true_other) & ~truth["home"]

    out = con.sql("""
        SELECT record_id, works_in_home_state AS home,
               works_in_other_state AND NOT works_in_home_state AS only_elsewhere
        FROM cohort_outcome WHERE method = 'probabilistic'
    """).df()
    both = truth.merge(out, on="record_id", suffixes=("_truth", "_lesson"))
    assert len(both) == len(ids)
    ok = both[both["record_id"].isin(perfect)]
    assert (ok["home_truth"] == ok["home_lesson"]).all()
    assert (ok["only_elsewhere_truth"] == ok["only_elsewhere_lesson"]).all()

    wrong = len(ids) - len(perfect)
    assert wrong <= max(2, 0.2 * len(ids)), f"{wrong} of {len(ids)} cohort completers are linked wrongly"
    assert abs(lesson["working_home_state"] - int(truth["home"].sum())) <= wrong
    assert abs(lesson["working_only_elsewhere"] - int(truth["only_elsewhere"].sum())) <= wrong
    if wrong == 0:
        assert lesson["working_only_elsewhere"] == int(truth["only_elsewhere"].sum())
        assert lesson["working_home_state"] == int(truth["home"].sum())
    # the reported numbers are the probabilistic row of the lesson's answer table
    assert lesson["working_only_elsewhere"] == int(out["only_elsewhere"].sum())
    assert lesson["working_home_state"] == int(out["home"].sum())
