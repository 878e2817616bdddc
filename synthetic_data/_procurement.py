"""Procurement: one state's vendors in three systems that do not share keys.

The comptroller keys vendors by number and FEIN with dashes, the transportation
registry stores the EIN as a number (leading zeros lost) under a mixed-case
name, and the certification office knows firms by trade name and ZIP only. A
planted gap: certified minority-owned firms win fewer contracts than their
size predicts, visible only once the three systems are linked.
"""

import numpy as np

from . import _reference as ref
from ._columns import arrow_table
from ._rng import stream
from ._strings import ljust, replace, zfill

__all__ = ["procurement_tables"]

_AGENCIES = np.array(["Department of Transportation", "Department of Human Services", "Department of Corrections",
                      "Department of Public Health", "Capital Development Board", "Department of Natural Resources"])
_OWNER_RACES = np.array(["Black or African American", "Hispanic or Latino", "Asian", "American Indian or Alaska Native"])


def _variant(names, rng):
    """How a second system spells a business name: case, punctuation, suffix and DBA drift."""
    out = np.char.title(names.astype(str))
    u = rng.random(len(names))
    out = np.where(u < 0.3, replace(replace(out, " Llc", ", L.L.C."), " Inc", ", Inc."), out)
    out = np.where((u >= 0.3) & (u < 0.5), replace(replace(out, " Llc", ""), " Inc", ""), out)
    out = np.where((u >= 0.5) & (u < 0.6), np.char.add("The ", out), out)
    return out


def procurement_tables(world):
    p, cal = world.params, world.cal
    pr = p["procurement"]
    rng = stream(world.seed, "procurement")
    state = pr["procurement_state"] if "procurement_state" in pr else p["region"]["procurement_state"]
    E = world.employers
    s_idx = list(world.geo.state_fips).index(state)
    private = np.flatnonzero((E["state"] == s_idx) & (E["ownership"] == 5))
    n = min(pr["businesses"], len(private)) if len(private) else 0
    chosen = np.sort(rng.choice(private, size=n, replace=False)) if n else np.array([], dtype=np.int64)
    bid = np.arange(1, n + 1, dtype=np.int64)
    name = np.char.upper(E["legal_name"][chosen].astype(str))
    ein = E["ein"][chosen].astype(str)
    minority = rng.random(n) < pr["minority_owned_share"]
    woman = rng.random(n) < pr["woman_owned_share"]
    owner_race = np.where(minority, rng.choice(_OWNER_RACES, size=n, p=[0.45, 0.35, 0.15, 0.05]), "White")
    certified = (minority | woman) & (rng.random(n) < pr["certified_share_of_eligible"])
    size = E["size"][chosen]
    zip_ = zfill(rng.integers(60000, 63000, n).astype(str), 5)
    pools = ref.name_pools()
    out = {"business": arrow_table("business", {
        "business_id": bid, "name": name.astype(object), "ein": ein.astype(object), "minority_owned": minority,
        "woman_owned": woman, "owner_race_ethnicity": owner_race.astype(object), "certified": certified})}
    xw = []

    # Comptroller: most businesses; 4% registered twice under a slightly different name.
    in_c = rng.random(n) < 0.9
    dup = in_c & (rng.random(n) < 0.04)
    rows = np.concatenate([np.flatnonzero(in_c), np.flatnonzero(dup)])
    vnum = np.char.add("V", zfill(rng.choice(9_000_000, len(rows), replace=False).astype(str), 7))
    cname = name[rows].copy()
    cname[np.sum(in_c):] = replace(cname[np.sum(in_c):], " LLC", " L L C")
    fein = np.char.add(np.char.add(ljust(ein[rows], 2).astype("U2"), "-"), np.array([e[2:] for e in ein[rows]], dtype=str))
    fein = np.where(rng.random(len(rows)) < 0.05, None, fein).astype(object)
    out["vendor_comptroller"] = arrow_table("vendor_comptroller", {
        "vendor_number": vnum.astype(object), "legal_name": cname.astype(object), "fein": fein,
        "zip": zip_[rows].astype(object)})
    xw.append(("vendor_comptroller", vnum, bid[rows]))

    # Transportation registry: construction-type firms and a random share of others.
    in_d = rng.random(n) < 0.35
    d = np.flatnonzero(in_d)
    cid = (10_000 + rng.choice(80_000, len(d), replace=False)).astype(np.int32) if len(d) else np.array([], dtype=np.int32)
    dname = _variant(name[d], rng)
    dba = rng.random(len(d)) < 0.15
    dname = np.where(dba, np.char.add(np.char.add(dname, " DBA "), rng.choice(pools.last, len(d))), dname)
    tax = np.where(rng.random(len(d)) < 0.08, None, ein[d].astype(np.int64)).astype(object)
    out["vendor_dot"] = arrow_table("vendor_dot", {
        "contractor_id": cid, "business_name": dname.astype(object), "tax_id": tax,
        "city": np.full(len(d), None, dtype=object), "zip": zip_[d].astype(object)})
    xw.append(("vendor_dot", cid.astype(str), bid[d]))

    # Certification registry: trade names, no EIN.
    c = np.flatnonzero(certified)
    cert = np.char.add("BEP-", zfill(np.arange(1, len(c) + 1).astype(str), 6))
    trade = _variant(name[c], rng)
    ctype = np.where(minority[c] & woman[c], "MWBE", np.where(minority[c], "MBE", "WBE"))
    cdate = cal.start_date(rng.integers(0, world.T, len(c))) + rng.integers(0, 90, len(c))
    out["cert_registry"] = arrow_table("cert_registry", {
        "certification_number": cert.astype(object), "firm_name": trade.astype(object), "certification_type": ctype.astype(object),
        "owner_race_ethnicity": np.where(minority[c], owner_race[c], None).astype(object),
        "naics": E["naics"][chosen][c].astype(object), "zip": zip_[c].astype(object), "certified_date": cdate,
        "expiration_date": cdate + 3 * 365})
    xw.append(("cert_registry", cert, bid[c]))

    # Contracts: awarded in proportion to size, less to certified minority-owned firms.
    years = world.T // 4
    m = pr["contracts_per_year"] * years if n else 0  # no businesses, no contracts
    weight = size * np.where(certified & minority, pr["minority_award_gap"], 1.0)
    winner = rng.choice(n, size=m, p=weight / weight.sum()) if n else np.array([], dtype=np.int64)
    via_dot = in_d[winner] & (rng.random(m) < 0.7)
    via_c = ~via_dot & in_c[winner]
    keep = via_dot | via_c
    winner, via_dot = winner[keep], via_dot[keep]
    c_key = {b: k for k, b in zip(vnum[: np.sum(in_c)], np.flatnonzero(in_c))}
    d_key = {b: str(k) for k, b in zip(cid, d)}
    vkey = np.array([d_key[b] if v else c_key[b] for b, v in zip(winner, via_dot)], dtype=object)
    award = cal.start_date(rng.integers(0, world.T, len(winner))) + rng.integers(0, 90, len(winner))
    amount = np.round(np.exp(rng.normal(11.0, 1.2, len(winner))) * (1 + np.log1p(size[winner])) / 100).astype(np.int64) * 100
    order = np.argsort(award, kind="stable")
    out["contract"] = arrow_table("contract", {
        "contract_id": np.char.add("K", zfill(np.arange(1, len(winner) + 1).astype(str), 7)).astype(object),
        "awarding_agency": np.where(via_dot, _AGENCIES[0], rng.choice(_AGENCIES[1:], len(winner)))[order].astype(object),
        "source_system": np.where(via_dot, "dot", "comptroller")[order].astype(object),
        "vendor_key": vkey[order], "award_date": award[order], "amount": amount[order],
        "naics": E["naics"][chosen][winner][order].astype(object)})
    out["business_crosswalk"] = arrow_table("business_crosswalk", {
        "source_table": np.concatenate([np.full(len(k), t, dtype=object) for t, k, _ in xw]),
        "source_key": np.concatenate([np.asarray(k, dtype=object) for _, k, _ in xw]),
        "business_id": np.concatenate([b for _, _, b in xw])})
    return out
