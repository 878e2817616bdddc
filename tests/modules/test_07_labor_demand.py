"""Module 7 (characterizing labor demand): the lesson's measures tied to the truth and to independent counts.

* Beginning- and end-of-quarter headcounts computed from SSNs (`statelab.measures`) agree with the QCEW-like
  `employer_quarter` file -- which the generator counts from *true people* -- employer by employer and
  sector by sector, except for records whose SSN is missing, a placeholder or mistyped: the difference is
  never larger than the number of such records in the two quarters involved.
* With true person ids (`truth.crosswalk`) the same counts reproduce `employer_quarter` exactly.
* For workers whose records all carry their true SSN, the worker-flow edge table equals flows computed
  independently in pandas from true person ids.
* The planted recession (sectors and quarters read from `truth.parameters`) shows up as it must: a larger
  rise in separations and a larger fall in employment in the hit sectors than elsewhere.
"""

from __future__ import annotations

import json

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
    """month-1 / month-3 style counts by true person: paid by the account in t-1 and t / t and t+1."""
    keys = set(zip(w.ui_account, w.person_id, w.q))
    w = w.assign(was=[(a, p, q - 1) in keys for a, p, q in zip(w.ui_account, w.person_id, w.q)],
                 stays=[(a, p, q + 1) in keys for a, p, q in zip(w.ui_account, w.person_id, w.q)])
    return w.groupby(["ui_account", "q"]).agg(begin=("was", "sum"), end=("stays", "sum")).reset_index()


def test_person_counts_reproduce_the_qcew_file(tiny_con, wage_truth):
    qcew = tiny_con.sql("SELECT ui_account, year * 4 + quarter - 1 AS q, month1_emplvl, month3_emplvl "
                        "FROM employer_quarter").df()
    j = _person_counts(wage_truth).merge(qcew, on=["ui_account", "q"], how="outer")
    assert j.month1_emplvl.notna().all() and j.begin.notna().all()
    assert (j.begin == j.month1_emplvl).all() and (j.end == j.month3_emplvl).all()


def test_ssn_headcounts_match_qcew_within_ssn_noise(tiny_con, wage_truth):
    eq = m.employer_quarters(tiny_con)
    qcew = tiny_con.sql("SELECT ui_account, year * 4 + quarter - 1 AS q, month1_emplvl, month3_emplvl "
                        "FROM employer_quarter").df()
    noisy = wage_truth[wage_truth.noisy].groupby(["ui_account", "q"]).size().rename("noisy")
    j = eq.merge(qcew, on=["ui_account", "q"], how="left").set_index(["ui_account", "q"])
    j["noisy_t"] = noisy.reindex(j.index).fillna(0).to_numpy()
    j["noisy_prev"] = noisy.reindex([(a, q - 1) for a, q in j.index]).fillna(0).to_numpy()
    j["noisy_next"] = noisy.reindex([(a, q + 1) for a, q in j.index]).fillna(0).to_numpy()
    b = j.dropna(subset=["emp_begin"])
    assert ((b.emp_begin - b.month1_emplvl).abs() <= b.noisy_t + b.noisy_prev).all()
    e = j.dropna(subset=["emp_end"])
    assert ((e.emp_end - e.month3_emplvl).abs() <= e.noisy_t + e.noisy_next).all()
    # The lesson's sector headcounts: the same bound summed over a sector's employers, and a small gap.
    ld = m.labor_demand(tiny_con, by="naics_sector")
    sect = j.reset_index().dropna(subset=["emp_begin"]).groupby(["naics_sector", "q"]).agg(
        qcew=("month1_emplvl", "sum"), bound=("noisy_t", "sum"), bound_prev=("noisy_prev", "sum"))
    s = ld.dropna(subset=["emp_begin"]).set_index(["naics_sector", "q"]).join(sect)
    assert ((s.emp_begin - s.qcew).abs() <= s.bound + s.bound_prev).all()
    total_gap = (s.emp_begin - s.qcew).abs().sum() / s.qcew.sum()
    assert total_gap < 0.02, f"SSN-based headcounts miss {total_gap:.1%} of the QCEW count"


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


def test_planted_recession_shows_in_hit_sectors(tiny_con):
    par = dict(tiny_con.sql("SELECT name, value FROM truth.parameters WHERE name LIKE 'recession.%'").fetchall())
    hit = json.loads(par["recession.hit_sectors"])
    start = json.loads(par["recession.start"])
    quarters = json.loads(par["recession.quarters"])
    q0 = int(start[:4]) * 4 + int(start[-1]) - 1
    ld = m.labor_demand(tiny_con, by="naics_sector")
    ld["hit"] = ld.naics_sector.isin(hit)
    g = ld.groupby(["hit", "q"])[["workers", "emp_begin", "separations"]].sum()
    rate = g.separations / g.workers
    during = list(range(q0, q0 + quarters))
    before = list(range(q0 - 4, q0))
    rise = {h: rate.loc[h].loc[during].mean() / rate.loc[h].loc[before].mean() for h in (True, False)}
    assert rise[False] > 1 and rise[True] > rise[False]
    # Beginning-of-quarter employment from the start of the shock to the quarter after it ends.
    change = {h: m.growth_rate(g.loc[(h, q0 + quarters), "emp_begin"], g.loc[(h, q0), "emp_begin"])
              for h in (True, False)}
    assert change[True] < change[False] < 0.05
    assert np.isfinite(list(change.values())).all()


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
