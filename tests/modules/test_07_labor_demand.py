"""Module 7 (characterizing labor demand): the lesson's measures tied to the truth and to independent counts.

* The QCEW-like `employer_quarter` file counts jobs on the payroll on the 12th of each month (QCEW's reference
  day), a close cousin of beginning-of-quarter employment (paid in t-1 and t). With true person ids
  (`truth.crosswalk`): every job counted on the 12th of month 1 is either in beginning-of-quarter employment or a
  hire of the quarter, and the two totals agree closely. With SSNs (`statelab.measures`) the counts move from
  the person counts by no more than the records whose SSN is missing, a placeholder or mistyped.
* For workers whose records all carry their true SSN, the worker-flow edge table equals flows computed
  independently in pandas from true person ids.
* The planted 2020 shock (layoff rates by sector read from `truth.parameters`, ``pandemic.*``) shows up as the
  lesson and the practice say, on the course profile at two seeds: the sectors that fall furthest are planted
  high-layoff sectors and get much of it back; separations rise most there; recalls surge after the spring
  layoffs and fall back; and the job-flow and disclosure readings the notebooks print hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from statelab import measures as m


@pytest.fixture()
def wage_truth(tiny_con):
    """Every wage record with its true person and whether its SSN is unusable or wrong."""
    df = tiny_con.sql("""
        SELECT w.record_id, w.ui_account, w.ssn, w.year * 4 + w.quarter - 1 AS q, w.wages, x.person_id,
               e.naics_sector
        FROM ui_wage AS w
        JOIN truth.crosswalk AS x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
        JOIN truth.person AS p ON p.person_id = x.person_id
        JOIN employer AS e ON e.ui_account = w.ui_account
    """).df()
    true_ssn = tiny_con.sql("SELECT person_id, ssn FROM truth.person").df().set_index("person_id")["ssn"]
    df["noisy"] = df.ssn.isna() | df.ssn.isin(m.PLACEHOLDER_SSNS) | (df.ssn != df.person_id.map(true_ssn))
    df["noisy"] = df["noisy"].fillna(True).astype(bool)
    return df


def _person_counts(w):
    """Counts by true person and account: paid in t-1 and t (begin), t and t+1 (end), hires, separations."""
    w = w.drop_duplicates(["ui_account", "person_id", "q"])
    keys = set(zip(w.ui_account, w.person_id, w.q))
    w = w.assign(was=[(a, p, q - 1) in keys for a, p, q in zip(w.ui_account, w.person_id, w.q)],
                 stays=[(a, p, q + 1) in keys for a, p, q in zip(w.ui_account, w.person_id, w.q)])
    out = w.groupby(["ui_account", "q"]).agg(begin=("was", "sum"), end=("stays", "sum"), workers=("was", "size"))
    out["hires"], out["separations"] = out.workers - out.begin, out.workers - out.end
    return out.reset_index()


def _qcew(con):
    return con.sql("SELECT ui_account, year * 4 + quarter - 1 AS q, month1_emplvl, month3_emplvl "
                   "FROM employer_quarter").df()


def test_the_twelfth_of_the_month_count_is_beginning_employment_plus_early_hires(tiny_con, wage_truth):
    """A job on the payroll on the 12th of month 1 was either paid in t-1 too or is a hire of quarter t."""
    j = _person_counts(wage_truth).merge(_qcew(tiny_con), on=["ui_account", "q"], how="outer")
    j = j[j.q > j.q.min()]                                   # the first quarter has no t-1
    assert j.month1_emplvl.notna().all() and j.begin.notna().all()
    assert (j.month1_emplvl <= j.begin + j.hires).all()
    assert (j.month1_emplvl < j.begin + j.hires).any() and (j.month1_emplvl < j.begin).any()   # not an identity
    assert abs(j.begin.sum() - j.month1_emplvl.sum()) / j.month1_emplvl.sum() < 0.02


def test_ssn_headcounts_move_from_person_counts_only_by_ssn_noise(tiny_con, wage_truth):
    eq = m.employer_quarters(tiny_con)
    people = _person_counts(wage_truth).set_index(["ui_account", "q"])
    noisy = wage_truth[wage_truth.noisy].groupby(["ui_account", "q"]).size().rename("noisy")
    j = eq.set_index(["ui_account", "q"])[["emp_begin", "emp_end"]].join(people)
    j["noisy_t"] = noisy.reindex(j.index).fillna(0).to_numpy()
    j["noisy_prev"] = noisy.reindex([(a, q - 1) for a, q in j.index]).fillna(0).to_numpy()
    j["noisy_next"] = noisy.reindex([(a, q + 1) for a, q in j.index]).fillna(0).to_numpy()
    b = j.dropna(subset=["emp_begin"])
    assert ((b.emp_begin - b.begin).abs() <= b.noisy_t + b.noisy_prev).all()
    e = j.dropna(subset=["emp_end"])
    assert ((e.emp_end - e.end).abs() <= e.noisy_t + e.noisy_next).all()
    assert (b.emp_begin != b.begin).any()                    # the noise is there to be bounded


def test_worker_flows_equal_person_flows_for_clean_workers(tiny_con, wage_truth):
    dirty = set(wage_truth.loc[wage_truth.noisy, "person_id"])
    clean = wage_truth[~wage_truth.person_id.isin(dirty)]
    tiny_con.register("clean_ids", pd.DataFrame({"record_id": clean.record_id}))
    tiny_con.sql("CREATE OR REPLACE TABLE clean_wage AS SELECT w.* FROM ui_wage AS w "
                 "JOIN clean_ids USING (record_id)")
    got = m.worker_flows(tiny_con, wage_table="clean_wage", by="naics_sector")
    # Independent: main employer per true person and quarter, changes between consecutive quarters.
    pq = clean.groupby(["person_id", "ui_account", "q", "naics_sector"], as_index=False)["wages"].sum()
    main = pq.sort_values(["person_id", "q", "wages", "ui_account"], ascending=[True, True, False, True])
    main = main.drop_duplicates(["person_id", "q"])
    nxt = main.assign(q=main.q - 1)[["person_id", "q", "ui_account", "naics_sector"]]
    pair = main.merge(nxt, on=["person_id", "q"], suffixes=("_o", "_d"))
    paid = set(zip(pq.person_id, pq.ui_account, pq.q))
    moved = pair[[(p, a, q + 1) not in paid for p, a, q in zip(pair.person_id, pair.ui_account_o, pair.q)]]
    expected = moved.groupby(["naics_sector_o", "naics_sector_d"]).size()
    got_s = got.set_index(["origin", "destination"])["job_changers"]
    assert len(expected) > 0
    assert {k: int(v) for k, v in got_s.items()} == {k: int(v) for k, v in expected.items()}
    # The lesson's question: where do workers leaving manufacturing go?
    from_mfg = got[got.origin == "31-33"]
    assert from_mfg.job_changers.sum() == expected.loc["31-33"].sum()


@pytest.fixture(scope="module", params=[20260101, 7], ids=lambda s: f"seed{s}")
def course(request, course_dataset_at):
    import synthetic_data as sd

    con = sd.connect(course_dataset_at(request.param), truth=True)
    params = dict(con.sql("SELECT name, value FROM truth.parameters WHERE name LIKE 'pandemic.%'").fetchall())
    prefix = "pandemic.layoff_rate_by_sector."
    rates = {k[len(prefix):]: float(v) for k, v in params.items() if k.startswith(prefix)}
    # the planted high-layoff sectors: at least three times the rate of the sectors not listed
    planted = {s for s, r in rates.items() if r >= 3 * float(params["pandemic.layoff_rate_other"])}
    out = {"seed": request.param, "planted": planted,
           "sectors": m.labor_demand(con, by="naics_sector"),
           "region": m.labor_demand(con, by=None, start="2019Q1", end="2022Q4"),
           "eq": m.employer_quarters(con), "qcew": _qcew(con)}
    cells = m.labor_demand(con, by=["county_fips", "naics_sector"])
    out["cells"] = cells[cells["q"] == cells["q"].max()]
    con.close()
    return out


def test_ssn_headcounts_agree_with_the_employer_count_as_the_lesson_reads_them(course):
    """Lesson step 3: emp_begin equals month-1 employment for most employer-quarters, and the totals are close."""
    both = course["eq"].dropna(subset=["emp_begin"]).merge(course["qcew"], on=["ui_account", "q"])
    assert (both["emp_begin"] == both["month1_emplvl"]).mean() > 0.5
    assert abs(both["emp_begin"].sum() - both["month1_emplvl"].sum()) / both["month1_emplvl"].sum() < 0.02


def test_the_sectors_that_fell_furthest_are_planted_and_came_back(course):
    """Lesson step 4: the three sectors lowest in 2020Q4 (2019Q4 = 100) are planted high-layoff sectors, and each
    has regained at least half of its loss by 2022Q4."""
    level = course["sectors"].pivot_table(index="naics_sector", columns="q", values="emp_begin", aggfunc="sum")
    base, end_2020, end_2022 = 2019 * 4 + 3, 2020 * 4 + 3, 2022 * 4 + 3
    level = level[level[base] >= 20].astype(float)
    index = level.div(level[base], axis=0)
    fell = index[end_2020].sort_values().index[:3]
    assert set(fell) <= course["planted"], (course["seed"], index[end_2020].sort_values().head(5))
    for sector in fell:
        trough = index.loc[sector, base:end_2022].min()
        assert index.loc[sector, end_2022] - trough >= 0.5 * (1 - trough), (sector, index.loc[sector])


def test_separations_rose_most_in_planted_sectors(course):
    """Practice exercise 1: most of the five largest rises in the separation rate (2020Q1-Q2 against the same
    quarters of 2019) are planted high-layoff sectors, and the planted sectors' separations rose more."""
    s = course["sectors"][course["sectors"]["emp_begin"] > 0].copy()
    s["rate"] = s["separations"].astype(float) / s["emp_begin"].astype(float)
    before = s[s["q"].isin([2019 * 4, 2019 * 4 + 1])].groupby("naics_sector")["rate"].mean()
    spring = s[s["q"].isin([2020 * 4, 2020 * 4 + 1])].groupby("naics_sector")["rate"].mean()
    rise = (spring / before).sort_values(ascending=False)
    assert len(set(rise.index[:5]) & course["planted"]) >= 3, rise.head(8)
    totals = s.assign(planted=s["naics_sector"].isin(course["planted"]))
    g = totals.groupby(["planted", "q"])[["separations", "emp_begin"]].sum()
    rate = (g["separations"] / g["emp_begin"]).unstack("q")
    change = rate[[2020 * 4, 2020 * 4 + 1]].mean(axis=1) / rate[[2019 * 4, 2019 * 4 + 1]].mean(axis=1)
    assert change[True] > change[False] > 1


def test_recalls_surge_after_the_spring_layoffs_and_fall_back(course):
    """Practice exercise 2: recalls as a share of hires peak between 2020Q3 and 2021Q1, several times their 2019
    level, and are back near it in 2022."""
    r = course["region"]
    share = ((r["hires"] - r["new_hires"]).astype(float) / r["hires"].astype(float)).to_numpy()
    q = (r["year"] * 4 + r["quarter"] - 1).to_numpy()
    usual, late = share[r["year"] == 2019].mean(), share[r["year"] == 2022].mean()
    peak = q[np.argmax(share)]
    assert 2020 * 4 + 2 <= peak <= 2021 * 4, (peak, share)
    assert share.max() > 4 * usual and late < 2 * usual, (usual, share.max(), late)


def test_most_county_sector_cells_fail_for_too_few_employers(course):
    """Practice exercise 4: the minimum number of employers removes more cells than the dominance rule."""
    from statelab import disclosure

    rules, cells = disclosure.Rules(), course["cells"]
    few = cells["employers"] < rules.min_employers
    dominated = ~few & (cells["largest_employer_share"] > rules.max_employer_share)
    assert few.sum() > dominated.sum() > 0


@pytest.mark.parametrize("seed", [20260101, 7])
def test_job_changes_stay_in_their_sector_far_more_than_chance(course_dataset_at, seed):
    """The lesson's reading of the flow table: the diagonal is several times what unrelated moves would give,
    and manufacturing leavers go back to manufacturing more often than job changers in general."""
    import synthetic_data as sd

    con = sd.connect(course_dataset_at(seed))
    flows = m.worker_flows(con, by="naics_sector", start="2016Q1")
    con.close()
    total = flows["job_changers"].sum()
    diagonal = flows.loc[flows["origin"] == flows["destination"], "job_changers"].sum() / total
    origin = flows.groupby("origin")["job_changers"].sum() / total
    destination = flows.groupby("destination")["job_changers"].sum() / total
    unrelated = float((origin * destination.reindex(origin.index).fillna(0)).sum())
    assert diagonal > 3 * unrelated, (diagonal, unrelated)
    from_mfg = flows[flows["origin"] == "31-33"].set_index("destination")["job_changers"]
    assert from_mfg["31-33"] / from_mfg.sum() > 2 * destination["31-33"]
