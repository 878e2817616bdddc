"""One partition: a block of people, every person-level agency file and its truth.

A partition depends only on (profile, seed, partition number), so partitions
can run in any order, in any process, and give the same bytes.
"""

import numpy as np
import pyarrow as pa

from . import _reference as ref
from ._assistance import CHURN_REASONS, simulate_assistance
from ._claims import PROGRAMS, simulate_claims
from ._columns import Take, arrow_table, codes_array, labels
from ._identity import apply_noise
from ._labor import simulate_jobs, wage_rows
from ._people import make_people
from ._postsec import PATHS, simulate_postsecondary
from ._rng import stream
from ._strings import zfill
from ._wioa import simulate_wioa

__all__ = ["build_partition"]


def _identity(P, who, when_q, rates, rng, *, as_codes=False):
    """Noisy identity fields for ``who`` (row indexes into P) as known at quarter ``when_q``.

    With ``as_codes``, for columns of many rows: the SSNs come back as a fixed-width
    Arrow array, and each name column as ``(Arrow strings, index per identity)``. Values
    as issued are taken from the person's codes; only the few altered by noise are
    converted from Python strings.
    """
    changed_by_then = P["surname_changed"][who] & (P["change_q"][who] <= when_q)
    last = np.where(changed_by_then, P["last"][who], P["birth_last"][who]).astype(object)
    ssn, first, last, dob, flags = apply_noise(
        rng, rates, ssn=P["ssn"][who], first=P["first"][who], last=last,
        dob=P["dob"][who], birth_last=P["birth_last"][who], changed=changed_by_then)
    if as_codes:
        codes = P["ssn_bytes"][who]
        altered = flags["ssn_typo"] | flags["ssn_transpose"] | flags["ssn_placeholder"]
        codes[altered] = ssn[altered].astype("S9")
        ssn = codes_array(codes, ~flags["ssn_missing"])
        first = _pooled(first, P["first_code"][who])
        last = _pooled(last, np.where(changed_by_then, P["last_code"][who], P["birth_last_code"][who]))
    return ssn, first, last, dob


def _pooled(values, codes):
    """``values`` as (Arrow strings, index): the name pools, then the values that are not their code's name."""
    pools = ref.name_pools()
    altered = np.flatnonzero(values != pools.names[codes])
    if not len(altered):
        return pools.arrow, codes
    index = codes.copy()
    index[altered] = len(pools.names) + np.arange(len(altered))
    return pa.concat_arrays([pools.arrow, pa.array(values[altered], pa.string())]), index


def _ids(base, n):
    return np.arange(base, base + n, dtype=np.int64)


def _employer_quarter_partial(emp, q, wages, months, *, n_quarters):
    """This partition's share of the QCEW-like counts, per employer and quarter.

    A job counts in month m's employment when it covers the 12th of that month (QCEW's
    reference day), as ``months`` flags (bit m) say for each wage row. Returns numpy arrays:
    the parent adds them into its totals.
    """
    # Number the employers this partition pays densely, so the sums run over their cells
    # only, not over every employer of the region ...
    used = np.zeros(int(emp.max()) + 1 if len(emp) else 0, dtype=bool)
    used[emp] = True
    employers = np.flatnonzero(used)
    local = np.cumsum(used) - 1
    cell = local[emp] * n_quarters + q
    # ... and number the paid (employer, quarter) cells densely too.
    seen = np.zeros(int(cell.max()) + 1 if len(cell) else 0, dtype=bool)
    seen[cell] = True
    paid = np.flatnonzero(seen)
    dense = np.empty(len(seen), dtype=np.int64)
    dense[paid] = np.arange(len(paid))
    cell = dense[cell]
    out = {"employer": employers[paid // n_quarters], "q": paid % n_quarters,
           # float sums of integer wages are exact below 2**53 (9e15) per employer and quarter
           "wages": np.bincount(cell, weights=wages, minlength=len(paid)).astype(np.int64)}
    for m in range(3):
        out[f"m{m + 1}"] = np.bincount(cell[(months >> m) & 1 == 1], minlength=len(paid))
    return out


def _rows_by_state_quarter(J, jobs, wstate, q, T):
    """Indexes of the wage rows of ``jobs``, job after job, then stably by (state, quarter).

    Rows are laid out job after job (as :func:`wage_rows` makes them), so the rows of
    job ``j`` are the ``end - start + 1`` positions from the sum of the durations before it.
    """
    dur = J["end"] - J["start"] + 1
    first = np.cumsum(dur) - dur
    d = dur[jobs]
    rows = np.repeat(first[jobs] - (np.cumsum(d) - d), d) + np.arange(d.sum())
    small = np.int16 if int(wstate.max(initial=0) + 1) * T < 2**15 else np.int64
    bucket = (wstate[rows] * T + q[rows]).astype(small)
    return rows[np.argsort(bucket, kind="stable")]


def _grid(shape, index, weights=None):
    """Sum ``weights`` into a dense array of ``shape`` at ``index`` (a fast scatter-add).

    ``index`` is a tuple of coordinate arrays, or the flat (C-order) positions themselves.
    """
    flat = np.ravel_multi_index(index, shape) if isinstance(index, tuple) else index
    return np.bincount(flat, weights=weights, minlength=int(np.prod(shape))).reshape(shape)


def build_partition(world, k):
    """Return ``{table name: pyarrow.Table}`` for partition ``k``.

    The entry ``"_employer_quarter_partial"`` is not a table but this partition's
    share of ``employer_quarter`` as numpy arrays (see :class:`EmployerQuarter`).
    """
    p, T, cal, geo, E = world.params, world.T, world.cal, world.geo, world.employers
    seed = world.seed
    first_id, n = world.partition_people(k)
    rid = world.record_id_base(k)
    P = make_people(first_id, n, rng=stream(seed, "people", k), world=world)
    J = simulate_jobs(P, rng=stream(seed, "jobs", k), world=world)
    job, q, w, months = wage_rows(J, P, rng=stream(seed, "wages", k), world=world)
    person = J["person"][job]

    mult = np.ones((n, T))
    students, enroll, completion = simulate_postsecondary(P, rng=stream(seed, "postsecondary", k), world=world,
                                                          multiplier=mult)
    row_cell = person * T + q                          # each wage row's (person, quarter) cell
    earn0 = _grid((n, T), row_cell, w * mult.ravel()[row_cell])
    wioa = simulate_wioa(P, J, earn0, rng=stream(seed, "wioa", k), world=world, multiplier=mult)
    wages = np.round(w * mult.ravel()[row_cell]).astype(np.int64)
    # Intermediates are dropped as soon as they are used: for `large` (25 k people, about 10^6
    # wage rows) each row-level array is 7-8 MB and the (person, state, quarter) grid 38 MB.
    del earn0, mult, w

    earn = _grid((n, T), row_cell, wages)
    wstate = J["wstate"][job]
    inside = wstate >= 0
    earn_state = _grid((n, world.S, T), (person[inside], wstate[inside], q[inside]), wages[inside])
    claims, weeks = simulate_claims(P, J, earn_state, rng=stream(seed, "ui_claim", k), world=world)
    del earn_state
    # the truth's earnings grids, here so that the wage rows can be dropped after `ui_wage`
    out_of_region = _grid((n, T), row_cell[~inside], wages[~inside])
    n_jobs = _grid((n, T), row_cell).ravel()
    snap = simulate_assistance(P, earn, rng=stream(seed, "snap", k), world=world, program="snap")
    tanf = simulate_assistance(P, earn, rng=stream(seed, "tanf", k), world=world, program="tanf")

    noise = p["noise"]
    out, xwalk = {}, []

    # UI wage records: identity per job, as the employer reported it at hire.
    rng = stream(seed, "ui_wage_noise", k)
    jobs_in = np.flatnonzero(J["employer"] >= 0)
    ssn, first, last, _ = _identity(P, J["person"][jobs_in], J["start"][jobs_in], noise["ui_wage"], rng, as_codes=True)
    initial = P["middle"].astype("S1")                 # bytes truncate to the first letter
    middle = codes_array(initial[J["person"][jobs_in]], rng.random(len(jobs_in)) >= 0.35)
    pos = np.full(len(J["person"]), -1)
    pos[jobs_in] = np.arange(len(jobs_in))
    # Sorted by state, quarter, person, employer, then job: the jobs are put in (person,
    # employer) order, their rows laid out job after job, and those rows sorted stably by
    # (state, quarter), a radix sort of small integers instead of a sort of the whole key.
    n_emp = len(E["ui_account"])
    rows = _rows_by_state_quarter(J, jobs_in[np.argsort(J["person"][jobs_in] * n_emp + J["employer"][jobs_in],
                                                        kind="stable")], wstate, q, T)
    emp = J["employer"][job[rows]]
    # an employer is in one state, so equal keys are equal (employer, person, quarter)
    key = ((wstate[rows] * T + q[rows]) * n + person[rows]) * n_emp + emp
    # An employer files one record per worker and quarter: two spells at one account in
    # a quarter (a second job there, a rehire) are summed into one row.
    key_change = np.ones(len(rows), dtype=bool)
    key_change[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(key_change)
    summed = np.add.reduceat(wages[rows], starts) if len(rows) else wages[rows]
    worked = np.bitwise_or.reduceat(months[rows], starts) if len(rows) else months[rows]
    rows, emp, key = rows[starts], emp[starts], key[starts]
    job_r, q_r = job[rows], q[rows]
    jr = pos[job_r]
    ui_wage = {
        "record_id": _ids(rid, len(rows)),
        "state_fips": Take(world.codes["state_fips"], wstate[rows], width=2),
        "ssn": Take(ssn, jr, width=9), "first_name": Take(first[0], first[1][jr]),
        "middle_initial": Take(middle, jr, width=1), "last_name": Take(last[0], last[1][jr]), "ui_account": Take(world.codes["ui_account"], emp, width=10),
        "reporting_unit": Take(np.array(["00001"], dtype=object), np.zeros(len(rows)), width=5),
        "ein": Take(world.codes["reported_ein"], emp, width=9), "year": cal.year(q_r), "quarter": cal.quarter(q_r),
        "wages": summed,
    }
    out["ui_wage"] = arrow_table("ui_wage", ui_wage)
    out["_employer_quarter_partial"] = _employer_quarter_partial(emp, q_r, summed, worked, n_quarters=T)
    xwalk.append(("ui_wage", ui_wage["record_id"], P["person_id"][person[rows]]))
    del (ui_wage, job, q, months, person, row_cell, wages, wstate, inside, rows, emp, key, key_change, starts,
         summed, worked, job_r, q_r, jr, pos, jobs_in, initial, middle, ssn, first, last)
    rid += 100_000_000

    # UI claims and weeks.
    rng = stream(seed, "ui_claim_noise", k)
    cp = claims["person"]
    ssn, first, last, dob = _identity(P, cp, claims["file_q"], noise["ui_claim"], rng)
    c_ids = _ids(rid, len(cp))
    claim_id = np.char.add(np.char.add("C", geo.state_abbr[claims["state"]].astype(str)), c_ids.astype(str)).astype(object)
    emp = claims["employer"]
    has_emp = emp >= 0
    # Race and ethnicity as the claimant reported them; some leave it blank.
    race = np.where(rng.random(len(cp)) < p["ui"]["race_not_reported_share"], None, P["race_label"][cp]).astype(object)
    ui_claim = {
        "record_id": c_ids, "claim_id": claim_id, "state_fips": geo.state_fips[claims["state"]].astype(object),
        "program": claims["program"].astype(object),
        "ssn": ssn, "first_name": first, "last_name": last, "dob": dob,
        "sex": np.where(P["female"][cp], "F", "M").astype(object), "race_ethnicity": race,
        "education": np.array(ref.EDUCATION, dtype=object)[P["education"][cp]],
        "county_fips": geo.county_fips[claims["county"]].astype(object), "date_filed": claims["filed"],
        "benefit_year_start": claims["by_start"], "benefit_year_end": claims["by_end"],
        "separation_reason": claims["reason"].astype(object),
        "last_employer_ui_account": np.where(has_emp, world.employers["ui_account"][np.maximum(emp, 0)], None).astype(object),
        "naics_sector": np.where(has_emp, world.ind.code[np.maximum(claims["sector"], 0)], None).astype(object),
        "base_period_wages": claims["bpw"], "high_quarter_wages": claims["hqw"],
        "monetarily_eligible": claims["eligible"], "weekly_benefit_amount": claims["wba"],
        "max_benefit_amount": claims["mba"], "weeks_paid": claims["weeks"], "total_paid": claims["total"],
        "exhausted": claims["exhausted"],
    }
    out["ui_claim"] = arrow_table("ui_claim", ui_claim)
    xwalk.append(("ui_claim", c_ids, P["person_id"][cp]))
    out["ui_claim_week"] = arrow_table("ui_claim_week", {
        "claim_id": Take(claim_id, weeks["claim"]), "week_number": weeks["week_number"],
        "week_ending_date": weeks["week_ending"], "program": labels(weeks["program"], PROGRAMS),
        "amount_paid": weeks["amount"], "federal_supplement": weeks["supplement"],
        "remaining_balance": weeks["remaining"]})
    rid += 100_000_000

    # TANF and SNAP: identity per case, as recorded when the case opened. A household that
    # reapplies after a procedural closure (churn) gets a new case, with its own case number.
    churn_parts = []
    for name, A in (("tanf", tanf), ("snap", snap)):
        rng = stream(seed, f"{name}_noise", k)
        _, first_row, s = np.unique(A["spell"], return_index=True, return_inverse=True)
        sp_person = A["person"][first_row]
        ssn, first, last, dob = _identity(P, sp_person, A["q"][first_row], noise[name], rng, as_codes=True)
        # A household that reapplies after a procedural closure is found in the agency's client
        # records: its new case carries the identity recorded on the closed one (chains followed).
        ev = A["churn"]
        rank = np.searchsorted(A["spell"][first_row], ev["closed_spell"])      # spells are ascending
        again = np.searchsorted(A["spell"][first_row], ev["reopened_spell"])
        root = np.arange(len(first_row))
        root[again] = rank
        while (root[root] != root).any():
            root = root[root]
        who = root[s]
        ids = _ids(rid, len(s))
        case_num = _ids(rid, len(first_row))
        prefix = "T" if name == "tanf" else "S"
        case_id = np.char.add(np.char.add(prefix, geo.state_abbr[A["state"][first_row]].astype(str)),
                              case_num.astype(str)).astype(object)
        cols = {
            "record_id": ids, "case_id": Take(case_id, s), "state_fips": Take(world.codes["state_fips"], A["state"], width=2),
            "county_fips": Take(world.codes["county_fips"], A["county"], width=5),
            "head_ssn": Take(ssn, who, width=9), "head_first_name": Take(first[0], first[1][who]),
            "head_last_name": Take(last[0], last[1][who]),
            "head_dob": dob[who], "head_sex": Take(np.array(["M", "F"], dtype=object), P["female"][A["person"]], width=1),
        }
        ym = cal.yyyymm(A["month"])
        cert_start = cal.month_date(A["cert_start"])
        cert_end = cal.month_date(A["cert_start"] + A["cert_months"]) - 1
        if name == "tanf":
            cols.update(reporting_month=ym, n_adults=A["n_adults"], n_children=A["n_children"],
                        earned_income=A["earned"], benefit_amount=A["benefit"])
        else:
            cols.update(file_month=ym, cert_start_date=cert_start, cert_end_date=cert_end,
                        household_size=A["household_size"], gross_income=A["gross"], benefit_amount=A["benefit"],
                        emergency_allotment=A["emergency_allotment"])
        out[name] = arrow_table(name, cols)
        xwalk.append((name, ids, P["person_id"][A["person"]]))
        churn_parts.append({
            "program": Take(np.array([name], dtype=object), np.zeros(len(rank)), width=4),
            "person_id": P["person_id"][A["person"][first_row[rank]]],
            "closed_case_id": case_id[rank], "last_benefit_month": cal.yyyymm(ev["last_month"]),
            "reopened_case_id": case_id[again], "reopened_month": cal.yyyymm(ev["reopen_month"]),
            "gap_months": (ev["reopen_month"] - ev["last_month"] - 1).astype(np.int8),
            "closed_at": np.array(CHURN_REASONS, dtype=object)[ev["reason"]]})
        rid += 100_000_000
    out["assistance_churn"] = pa.concat_tables([arrow_table("assistance_churn", c) for c in churn_parts])

    # Postsecondary: identity per student record at an institution.
    progs, insts = ref.programs()
    inst_id = np.array([i["id"] for i in insts], dtype=object)
    rng = stream(seed, "postsecondary_noise", k)
    st = students
    ssn, first, last, dob = _identity(P, st["person"], np.zeros(len(st["person"]), dtype=np.int64),
                                      noise["postsecondary"], rng)
    student_id = np.char.add("S", zfill(_ids(rid, len(st["person"])).astype(str), 11)).astype(object)
    es = enroll["student"]
    ids = _ids(rid, len(es))
    out["postsec_enrollment"] = arrow_table("postsec_enrollment", {
        "record_id": ids, "student_id": student_id[es], "institution_id": inst_id[enroll["institution"]],
        "academic_year": enroll["academic_year"], "term": enroll["term"].astype(object),
        "ssn": ssn[es], "first_name": first[es], "last_name": last[es], "dob": dob[es],
        "enroll_status": np.where(st["full_time"][es], "full_time", "part_time").astype(object),
        "tuition_status": np.where(st["away"][es], "out_of_state", "in_state").astype(object),
        "degree_sought": np.array(["certificate", "associate", "bachelor"], dtype=object)[st["level"][es]],
        "cip_code": st["cip"][es]})
    xwalk.append(("postsec_enrollment", ids, P["person_id"][enroll["person"]]))
    rid += 100_000_000
    cs = completion["student"]
    ids = _ids(rid, len(cs))
    out["postsec_completion"] = arrow_table("postsec_completion", {
        "record_id": ids, "student_id": student_id[cs], "institution_id": inst_id[completion["institution"]],
        "academic_year": completion["academic_year"], "award_date": completion["award_date"],
        "degree_level": np.array(["certificate", "associate", "bachelor"], dtype=object)[completion["level"]],
        "cip_code": st["cip"][cs], "ssn": ssn[cs], "first_name": first[cs], "last_name": last[cs], "dob": dob[cs]})
    xwalk.append(("postsec_completion", ids, P["person_id"][completion["person"]]))
    rid += 100_000_000
    # truth: each student record seen in the files, with its planted path
    seen = np.unique(es)
    out["postsec_student"] = arrow_table("postsec_student", {
        "student_id": student_id[seen], "person_id": P["person_id"][st["person"][seen]],
        "institution_id": inst_id[st["institution"][seen]],
        "pathway": np.array([name for name, *_ in PATHS] + ["adult_certificate"], dtype=object)[st["path"][seen]],
        "transfer_in": st["transfer_in"][seen], "stop_out_terms": st["stop_out_terms"][seen].astype(np.int8),
        "completes": st["completes"][seen]})

    # WIOA: one record per period of participation, some repeated as in real extracts.
    rng = stream(seed, "wioa_noise", k)
    wp = wioa["person"]
    dup = rng.random(len(wp)) < noise["wioa"].get("duplicate_rows", 0.0)
    r = np.concatenate([np.arange(len(wp)), np.flatnonzero(dup)])
    r.sort(kind="stable")
    ssn, first, last, dob = _identity(P, wp[r], wioa["entry_q"][r], noise["wioa"], rng)
    ids = _ids(rid, len(r))
    state = wioa["state"][r]
    # PIRL 100: a state prefix and ten base-36 characters derived from the person, the same for every
    # period of participation (a second period is in the state of the first, see _wioa).
    first_state = np.zeros(n, dtype=np.int64)
    first_state[wp[wioa["period"] == 1]] = wioa["state"][wioa["period"] == 1]
    digits = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    code = (P["person_id"][wp[r]] * 2_654_435_761 + seed) % 36 ** 10
    chars = np.stack([digits[(code // 36 ** i) % 36] for i in range(9, -1, -1)], axis=1)
    # a row of ten one-character strings, read as one ten-character string: no loop over records
    uii = np.char.add(geo.state_abbr[first_state[wp[r]]].astype(str), np.ascontiguousarray(chars).view("<U10").ravel())
    cert_cips = np.array([g["cip"] for g in progs if "certificate" in g["levels"]], dtype=object)
    tcip = np.where(wioa["trained"][r], rng.choice(cert_cips, size=len(r)), None).astype(object)
    exit_date = np.where(wioa["exit_date"][r] < world.reference_date, wioa["exit_date"][r], np.datetime64("NaT"))
    out["wioa"] = arrow_table("wioa", {
        "record_id": ids, "unique_individual_id": uii.astype(object), "state_fips": geo.state_fips[state].astype(object),
        "ssn": ssn, "first_name": first, "last_name": last, "dob": dob,
        "sex": np.where(P["female"][wp[r]], "F", "M").astype(object),
        "race_ethnicity": P["race_label"][wp[r]].astype(object),
        "education": np.array(ref.EDUCATION, dtype=object)[P["education"][wp[r]]],
        "county_fips": geo.county_fips[P["county_q"][wp[r], wioa["entry_q"][r]]].astype(object),
        "program": wioa["program"][r].astype(object), "entry_date": wioa["entry_date"][r], "exit_date": exit_date,
        "employed_at_entry": wioa["employed_at_entry"][r], "received_training": wioa["trained"][r],
        "training_cip_code": tcip, "pilot_study": wioa["pilot"][r]})
    xwalk.append(("wioa", ids, P["person_id"][wp[r]]))

    # ---- truth
    out["person"] = arrow_table("person", {
        "person_id": P["person_id"], "ssn": P["ssn"], "first_name": P["first"], "middle_name": P["middle"],
        "last_name": P["last"], "birth_last_name": P["birth_last"], "surname_change_date": P["change_date"],
        "dob": P["dob"], "sex": np.where(P["female"], "F", "M").astype(object), "race_ethnicity": P["race_label"].astype(object),
        "education": np.array(ref.EDUCATION, dtype=object)[P["education"]], "n_children": P["n_children"],
        "has_partner": P["has_partner"], "death_date": P["death_date"], "earnings_potential": P["potential"],
        "never_works": P["never_works"]})
    moved = P["move_q"] >= 0
    two = np.flatnonzero(moved)
    res_person = np.concatenate([np.arange(n), two])
    res_spell = np.concatenate([np.zeros(n, dtype=np.int8), np.ones(len(two), dtype=np.int8)])
    res_county = np.concatenate([P["home"], P["dest"][two]])
    res_start = np.concatenate([np.zeros(n, dtype=np.int64), P["move_q"][two]])
    res_end = np.concatenate([np.where(moved, P["move_q"], -1), np.full(len(two), -1)])
    o = np.lexsort((res_spell, res_person))
    out["residence"] = arrow_table("residence", {
        "person_id": P["person_id"][res_person[o]], "spell": res_spell[o],
        "state_fips": geo.state_fips[geo.county_state[res_county[o]]].astype(object),
        "county_fips": geo.county_fips[res_county[o]].astype(object),
        "start_date": cal.start_date(res_start[o]),
        "end_date": np.where(res_end[o] >= 0, cal.start_date(np.maximum(res_end[o], 0)), np.datetime64("NaT"))})
    cell = np.flatnonzero(n_jobs)                      # by person, then quarter
    pi, qi = cell // T, cell % T
    out["earnings"] = arrow_table("earnings", {
        "person_id": P["person_id"][pi], "year": cal.year(qi), "quarter": cal.quarter(qi),
        "earnings": np.round(earn.ravel()[cell]).astype(np.int64),
        "out_of_region_earnings": np.round(out_of_region.ravel()[cell]).astype(np.int64),
        "n_jobs": n_jobs[cell].astype(np.int8)})
    out["crosswalk"] = pa.concat_tables([
        arrow_table("crosswalk", {"source_table": Take(np.array([t], dtype=object), np.zeros(len(i)), width=len(t)),
                             "record_id": i, "person_id": pid})
        for t, i, pid in xwalk])
    out["wioa_effect"] = arrow_table("wioa_effect", {
        "person_id": P["person_id"][wp], "period": wioa["period"], "entry_date": wioa["entry_date"],
        "exit_date": wioa["exit_date"],
        "program": wioa["program"].astype(object), "pilot_study": wioa["pilot"], "propensity": wioa["propensity"],
        "trained": wioa["trained"], "effect": wioa["effect"], "pre_earnings": wioa["pre"], "base_earnings": wioa["base"],
        "y0_post": wioa["y0_post"], "y1_post": wioa["y1_post"]})
    return out
