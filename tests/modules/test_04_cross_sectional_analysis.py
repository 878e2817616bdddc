"""Module 4 (cross-sectional analysis): the lesson's snapshot, recomputed independently and tied to the truth.

The lesson counts TANF, SNAP, UI and WIOA recipients in 2022 Q1 with `statelab.snapshot` (ever in the
quarter and on the 12 March reference date) and counts co-enrollment by SSN. Here:

* the counts the notebook's code path produces equal a pandas computation written from the codebook's
  definitions directly on the learner tables (no SQL shared with the package);
* co-enrollment by usable SSN equals the same pandas computation;
* against the truth (`truth.crosswalk`: who each record really is), co-enrollment by usable SSN is never
  above the true number of people on both programs (missing, placeholder, mistyped and transposed SSNs can
  only hide matches here), and keeping placeholders never lowers it; the gaps are reported.

No expected number is written down: everything is computed from the data.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd
import pytest

import synthetic_data as sd
from statelab import identifiers, snapshot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import nbrules  # noqa: E402

LESSON = Path(__file__).resolve().parents[2] / "modules" / "04-cross-sectional-analysis" / "01-benefit-snapshot.ipynb"
YEAR, QUARTER = 2022, 1
MAX_UNITS = 3


def test_lesson_uses_the_tested_code_path():
    code = nbrules.lesson_code(LESSON)  # layout-free: a re-wrapped line is the same code
    assert nbrules.layout_free("year, quarter = 2022, 1") in code
    for call in ('snapshot.snapshot_counts(con, year=year, quarter=quarter, definition="ever")',
                 'snapshot.snapshot_counts(con, year=year, quarter=quarter, definition="point")',
                 "snapshot.coenrollment(con, year=year, quarter=quarter)",
                 "snapshot.programs_per_person(con, year=year, quarter=quarter)",
                 "snapshot.recipients_sql(year=year, quarter=quarter)"):
        assert nbrules.layout_free(call) in code, call
    assert "truth" not in code.lower().replace("truthful", "")


# ------------------------------------------------------------------------ the independent computation
def _table(con, name: str) -> pd.DataFrame:
    return con.sql(f"SELECT * FROM statelab.{name}").df()


def _age(dob: pd.Series, ref: dt.date) -> pd.Series:
    d = pd.to_datetime(dob)
    before_birthday = (d.dt.month * 100 + d.dt.day) > (ref.month * 100 + ref.day)
    return ref.year - d.dt.year - before_birthday.astype("Int64")


def _age_group(age: pd.Series) -> pd.Series:
    out = pd.Series("unknown", index=age.index, dtype="object")
    for label, lo, hi in (("under 25", 0, 24), ("25-34", 25, 34), ("35-44", 35, 44), ("45-54", 45, 54),
                          ("55-64", 55, 64), ("65 and over", 65, 200)):
        out[age.between(lo, hi).fillna(False).astype(bool)] = label
    return out


def pandas_recipients(con, definition: str) -> pd.DataFrame:
    """One row per program unit, from the codebook's definitions, in pandas only."""
    last = QUARTER * 3
    ref = dt.date(YEAR, last, 12)
    if definition == "ever":
        months = (YEAR * 100 + last - 2, YEAR * 100 + last)
        start, end = dt.date(YEAR, last - 2, 1), dt.date(YEAR, last + 1, 1) - dt.timedelta(days=1)
        week_lo, week_hi = start, end
    else:
        months = (YEAR * 100 + last, YEAR * 100 + last)
        start = end = ref
        week_lo, week_hi = ref, ref + dt.timedelta(days=6)  # the Sunday-Saturday week containing ref
    frames = []
    for program, table, month in (("TANF", "tanf", "reporting_month"), ("SNAP", "snap", "file_month")):
        df = _table(con, table)
        df = df[df[month].between(*months)]
        df = df.sort_values([month, "record_id"]).groupby("case_id").tail(1)  # latest month of each case
        frames.append(pd.DataFrame({"program": program, "source_table": table, "unit_id": df["case_id"],
                                    "record_id": df["record_id"], "ssn": df["head_ssn"], "sex": df["head_sex"],
                                    "dob": df["head_dob"], "county_fips": df["county_fips"]}))
    weeks = _table(con, "ui_claim_week")
    week_end = pd.to_datetime(weeks["week_ending_date"]).dt.date
    paid = set(weeks.loc[(week_end >= week_lo) & (week_end <= week_hi), "claim_id"])
    claims = _table(con, "ui_claim")
    claims = claims[claims["claim_id"].isin(paid)]
    frames.append(pd.DataFrame({"program": "UI", "source_table": "ui_claim", "unit_id": claims["claim_id"],
                                "record_id": claims["record_id"], "ssn": claims["ssn"], "sex": claims["sex"],
                                "dob": claims["dob"], "county_fips": claims["county_fips"]}))
    w = _table(con, "wioa")
    entry = pd.to_datetime(w["entry_date"]).dt.date
    exit_ = pd.to_datetime(w["exit_date"]).dt.date
    w = w[(entry <= end) & (w["exit_date"].isna() | (exit_ >= start))]
    w = (w.assign(_no_ssn=w["ssn"].isna())
          .sort_values(["unique_individual_id", "entry_date", "_no_ssn", "record_id"],
                       ascending=[True, False, True, True])
          .groupby("unique_individual_id").head(1))
    frames.append(pd.DataFrame({"program": "WIOA", "source_table": "wioa", "unit_id": w["unique_individual_id"],
                                "record_id": w["record_id"], "ssn": w["ssn"], "sex": w["sex"], "dob": w["dob"],
                                "county_fips": w["county_fips"]}))
    rec = pd.concat(frames, ignore_index=True)
    units_per_ssn = rec.dropna(subset=["ssn"]).groupby(["program", "ssn"])["unit_id"].nunique()
    shared = {k for k, n in units_per_ssn.items() if n > MAX_UNITS}
    status = []  # the course's value rule (pandas form of what snapshot writes in SQL), then the shared rule
    for program, ssn, value in zip(rec["program"], rec["ssn"], identifiers.ssn_status(rec["ssn"].astype(object))):
        if value != "valid":
            status.append(value)
        elif (program, ssn) in shared:
            status.append("shared")
        else:
            status.append("usable")
    rec["ssn_status"] = status
    rec["age_group"] = _age_group(_age(rec["dob"], ref))
    return rec


def pandas_counts(rec: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    usable = rec["ssn_status"] == "usable"
    g = rec.assign(_ssn=rec["ssn"].where(usable), _bad=~usable).groupby(by)
    out = pd.DataFrame({"units": g.size(), "people": g["_ssn"].nunique(), "no_usable_ssn": g["_bad"].sum()})
    return out.astype("int64").sort_index()


def pandas_pairs(rec: pd.DataFrame, key: str = "ssn") -> dict[tuple[str, str], int]:
    sets = {p: set(g[key].dropna()) for p, g in rec.groupby("program")}
    progs = snapshot.PROGRAMS
    return {(a, b): len(sets.get(a, set()) & sets.get(b, set())) for i, a in enumerate(progs) for b in progs[i + 1:]}


# --------------------------------------------------------------------------------------- the checks
@pytest.mark.parametrize("definition", ["ever", "point"])
@pytest.mark.parametrize("by", [["program"], ["program", "sex"], ["program", "county_fips"],
                                ["program", "age_group"]], ids=lambda b: "+".join(b))
def test_snapshot_counts_equal_an_independent_pandas_computation(tiny_con, definition, by):
    got = snapshot.snapshot_counts(tiny_con, year=YEAR, quarter=QUARTER, definition=definition, by=by)
    got = got.set_index(by)[["units", "people", "no_usable_ssn"]].astype("int64").sort_index()
    expected = pandas_counts(pandas_recipients(tiny_con, definition), by)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, expected, check_names=False, check_index_type=False)


@pytest.mark.parametrize("definition", ["ever", "point"])
def test_coenrollment_by_ssn_equals_pandas(tiny_con, definition):
    rec = pandas_recipients(tiny_con, definition)
    usable = rec[rec["ssn_status"] == "usable"]
    expected = pandas_pairs(usable)
    got = snapshot.coenrollment(tiny_con, year=YEAR, quarter=QUARTER, definition=definition)
    assert {(r.program_a, r.program_b): r.both for r in got.itertuples()} == expected
    loose = pandas_pairs(rec.dropna(subset=["ssn"]))
    got_loose = snapshot.coenrollment(tiny_con, year=YEAR, quarter=QUARTER, definition=definition, ssn_rule="any")
    assert {(r.program_a, r.program_b): r.both for r in got_loose.itertuples()} == loose
    people = usable.groupby("ssn")["program"].nunique()
    combos = snapshot.programs_per_person(tiny_con, year=YEAR, quarter=QUARTER, definition=definition)
    assert int(combos.loc[combos["n_programs"] >= 2, "people"].sum()) == int((people >= 2).sum())


def _gap_table(con) -> pd.DataFrame:
    usable = snapshot.coenrollment(con, year=YEAR, quarter=QUARTER)
    loose = snapshot.coenrollment(con, year=YEAR, quarter=QUARTER, ssn_rule="any")
    person = snapshot.coenrollment(con, year=YEAR, quarter=QUARTER, key="person")
    out = usable[["program_a", "program_b"]].copy()
    out["by_usable_ssn"] = usable["both"]
    out["by_any_ssn"] = loose["both"]
    out["by_true_person"] = person["both"]
    # independent check of the truth side: the crosswalk joined in pandas
    rec = pandas_recipients(con, "ever")
    xwalk = con.sql("SELECT source_table, record_id, person_id FROM truth.crosswalk").df()
    rec = rec.merge(xwalk, on=["source_table", "record_id"], how="left", validate="one_to_one")
    assert rec["person_id"].notna().all()
    truth = pandas_pairs(rec, key="person_id")
    assert [truth[(a, b)] for a, b in zip(out["program_a"], out["program_b"])] == out["by_true_person"].tolist()
    return out


def _check_direction(gaps: pd.DataFrame, record_property) -> None:
    record_property("coenrollment_gaps", gaps.to_dict("records"))
    print("\n" + gaps.to_string(index=False))
    # cleaned SSNs can only miss people here (missing, placeholder, mistyped or transposed SSNs)
    assert (gaps["by_usable_ssn"] <= gaps["by_true_person"]).all(), gaps
    # keeping placeholders adds false matches, never removes one
    assert (gaps["by_any_ssn"] >= gaps["by_usable_ssn"]).all(), gaps


def test_ssn_coenrollment_falls_short_of_true_people_on_tiny(tiny_con, record_property):
    _check_direction(_gap_table(tiny_con), record_property)


@pytest.mark.slow
def test_ssn_noise_gap_on_the_course_data(course_dataset, record_property):
    """On the course data the gap is strict where the noise is planted: SNAP heads' SSNs are the noisiest."""
    con = sd.connect(course_dataset, truth=True)
    try:
        gaps = _gap_table(con)
    finally:
        con.close()
    _check_direction(gaps, record_property)
    snap_pairs = gaps[(gaps["program_a"] == "SNAP") | (gaps["program_b"] == "SNAP")]
    assert (snap_pairs["by_usable_ssn"] < snap_pairs["by_true_person"]).all(), snap_pairs
    tanf_snap = gaps[(gaps["program_a"] == "TANF") & (gaps["program_b"] == "SNAP")].iloc[0]
    assert tanf_snap["by_any_ssn"] > tanf_snap["by_usable_ssn"], "placeholders shared by TANF and SNAP heads"


# ------------------------------------------------------------- statements checked on the course data, two seeds


@pytest.mark.slow
def test_lesson_patterns_on_the_course_data(course_con):
    """UI shrinks most on a single day while SNAP and TANF barely move; most TANF heads are women; SNAP is in
    most multi-program combinations; co-enrollment by usable SSN stays at or below the true count, and
    invents fewer matches than it loses."""
    ever = snapshot.snapshot_counts(course_con, year=YEAR, quarter=QUARTER, definition="ever").set_index("program")
    point = snapshot.snapshot_counts(course_con, year=YEAR, quarter=QUARTER, definition="point").set_index("program")
    kept = point["units"] / ever["units"]
    assert kept.idxmin() == "UI"
    assert kept[["SNAP", "TANF"]].min() >= 0.85
    sex = snapshot.snapshot_counts(course_con, year=YEAR, quarter=QUARTER, by=("program", "sex"))
    share = sex[sex["sex"] == "F"].set_index("program")["units"] / sex.groupby("program")["units"].sum()
    assert share["TANF"] > 0.5 and share["TANF"] > share["UI"]
    combos = snapshot.programs_per_person(course_con, year=YEAR, quarter=QUARTER)
    multi = combos[combos["n_programs"] >= 2]
    assert multi.loc[multi["combination"].str.contains("SNAP"), "people"].sum() > 0.5 * multi["people"].sum()
    gaps = _gap_table(course_con)
    assert (gaps["by_usable_ssn"] <= gaps["by_true_person"]).all(), gaps
    # false matches (one SSN, two true people) versus lost ones, over all pairs of programs
    rec = pandas_recipients(course_con, "ever")
    xwalk = course_con.sql("SELECT source_table, record_id, person_id FROM truth.crosswalk").df()
    rec = rec.merge(xwalk, on=["source_table", "record_id"], how="left")
    usable = rec[rec["ssn_status"] == "usable"]
    invented = lost = 0
    for a, b in zip(gaps["program_a"], gaps["program_b"]):
        pa, pb = usable[usable["program"] == a], usable[usable["program"] == b]
        both_ssn = set(pa["ssn"]) & set(pb["ssn"])
        same = pa.merge(pb, on="ssn")
        invented += len({s for s in both_ssn if not (same.loc[same["ssn"] == s, "person_id_x"]
                                                     == same.loc[same["ssn"] == s, "person_id_y"]).any()})
        truly = set(rec.loc[rec["program"] == a, "person_id"]) & set(rec.loc[rec["program"] == b, "person_id"])
        found = set(same.loc[same["person_id_x"] == same["person_id_y"], "person_id_x"])
        lost += len(truly - found)
    assert invented < lost, (invented, lost)


@pytest.mark.slow
def test_practice_patterns_on_the_course_data(course_con):
    """Practice 1: UI changes most from 2019 Q4 to 2020 Q4, and federal programs pay a large part of the 2020 Q4
    weeks and none in 2019 Q4 or 2022 Q1. Practice 2: a UI pair loses more of its overlap on one day than
    TANF + SNAP."""
    before = snapshot.snapshot_counts(course_con, year=2019, quarter=4).set_index("program")["units"]
    during = snapshot.snapshot_counts(course_con, year=2020, quarter=4).set_index("program")["units"]
    assert (during / before).idxmax() == "UI"
    weeks = course_con.sql("""
        SELECT YEAR(week_ending_date) * 10 + QUARTER(week_ending_date) AS yq,
               AVG(CASE WHEN program <> 'UI' THEN 1.0 ELSE 0 END) AS federal
        FROM ui_claim_week GROUP BY 1
    """).df().set_index("yq")["federal"]
    assert weeks[20204] > 0.25 and weeks[20194] == 0 and weeks[20221] == 0
    ever = snapshot.coenrollment(course_con, year=YEAR, quarter=QUARTER, definition="ever")
    point = snapshot.coenrollment(course_con, year=YEAR, quarter=QUARTER, definition="point")
    kept = (point["both"] / ever["both"]).set_axis(ever["program_a"] + "+" + ever["program_b"])
    ui_pairs = kept[[k for k in kept.index if "UI" in k.split("+")]]
    assert ui_pairs.min() < kept["TANF+SNAP"]
