"""Tables that are not per person: reference lists, employers, institutions, parameters."""

import json

import numpy as np

from . import _reference as ref
from ._employers import NEVER, size_class
from ._partition import _arrow
from ._procurement import procurement_tables
from ._rng import stream

__all__ = ["global_tables"]


def _flatten(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def global_tables(world, *, march_employment):
    """The tables built once per dataset; ``march_employment`` (per establishment) gives the QCEW size class."""
    geo, ind, E, cal = world.geo, world.ind, world.employers, world.cal
    progs, insts = ref.programs()
    out = {
        "ref_state": _arrow("ref_state", {"state_fips": geo.state_fips.astype(object),
                                          "state_abbr": geo.state_abbr.astype(object),
                                          "state_name": geo.state_name.astype(object)}),
        "ref_county": _arrow("ref_county", {"county_fips": geo.county_fips.astype(object),
                                            "state_fips": geo.state_fips[geo.county_state].astype(object),
                                            "county_name": geo.county_name.astype(object),
                                            "population_2020": (geo.county_pop * 1000).astype(np.int64)}),
    }
    codes = [(c, ind.code[k], ind.title[k]) for k in range(len(ind.code)) for c in ind.naics[k]]
    out["ref_naics"] = _arrow("ref_naics", {"naics": np.array([c[0] for c in codes], dtype=object),
                                            "naics_sector": np.array([c[1] for c in codes], dtype=object),
                                            "sector_title": np.array([c[2] for c in codes], dtype=object)})
    out["ref_cip"] = _arrow("ref_cip", {"cip_code": np.array([g["cip"] for g in progs], dtype=object),
                                        "cip_title": np.array([g["title"] for g in progs], dtype=object)})
    keep = np.isin([i["state"] for i in insts], geo.state_fips)
    insts = [i for i, k in zip(insts, keep) if k]
    out["institution"] = _arrow("institution", {
        "institution_id": np.array([i["id"] for i in insts], dtype=object),
        "institution_name": np.array([i["name"] for i in insts], dtype=object),
        "state_fips": np.array([i["state"] for i in insts], dtype=object),
        "county_fips": np.array([i["county"] for i in insts], dtype=object),
        "sector": np.array([i["sector"] for i in insts], dtype=object)})
    liability = np.where(E["birth_q"] >= 0, cal.start_date(np.maximum(E["birth_q"], 0)),
                         cal.start_date(E["birth_q"]))
    rng = stream(world.seed, "employer_liability")
    liability = liability + rng.integers(0, 90, len(liability))
    closed = E["death_q"] < NEVER
    inactive = np.where(closed, cal.start_date(np.where(closed, E["death_q"], 0)) + 89, np.datetime64("NaT"))
    order = np.argsort(E["ui_account"], kind="stable")
    out["employer"] = _arrow("employer", {
        "ui_account": E["ui_account"][order].astype(object), "reporting_unit": np.full(len(order), "00001", dtype=object),
        "state_fips": geo.state_fips[E["state"][order]].astype(object), "ein": E["reported_ein"][order].astype(object),
        "legal_name": E["legal_name"][order].astype(object), "county_fips": geo.county_fips[E["county"][order]].astype(object),
        "naics": E["naics"][order].astype(object), "naics_sector": ind.code[E["sector"][order]].astype(object),
        "ownership_code": E["ownership"][order], "size_class": size_class(march_employment)[order],
        "liability_date": liability[order], "inactivation_date": inactive[order]})
    out.update(procurement_tables(world))
    params = sorted(_flatten(world.params))
    out["parameters"] = _arrow("parameters", {
        "name": np.array([k for k, _ in params] + ["seed"], dtype=object),
        "value": np.array([json.dumps(v) for _, v in params] + [json.dumps(world.seed)], dtype=object)})
    return out
