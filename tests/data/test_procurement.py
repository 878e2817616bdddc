"""Procurement tables for a state with very few businesses, where some columns come out empty."""

from __future__ import annotations

import copy

import pytest

import synthetic_data as sd
from synthetic_data._procurement import procurement_tables
from synthetic_data._world import World

_KEYS = {"vendor_comptroller": "vendor_number", "vendor_dot": "contractor_id", "cert_registry": "certification_number"}


@pytest.mark.parametrize("businesses", [0, 1, 3])
def test_a_handful_of_businesses_still_gives_linked_tables(businesses):
    params = copy.deepcopy(sd.load_profile("tiny"))
    params["procurement"]["businesses"] = businesses
    out = procurement_tables(World(params, sd.DEFAULT_SEED))
    assert out["business"].num_rows == businesses
    xw = out["business_crosswalk"].to_pandas()
    assert not xw.duplicated(["source_table", "source_key"]).any()
    assert set(xw["business_id"]) <= set(out["business"]["business_id"].to_pylist())
    for table, key in _KEYS.items():
        keys = [str(k) for k in out[table][key].to_pylist()]
        assert sorted(keys) == sorted(xw.loc[xw["source_table"] == table, "source_key"]), table
    vendors = set(xw.loc[xw["source_table"] != "cert_registry", "source_key"])
    assert set(out["contract"]["vendor_key"].to_pylist()) <= vendors
    # A business is registered with the comptroller at most twice (once more under a slightly different name).
    comptroller = xw[xw["source_table"] == "vendor_comptroller"]
    assert comptroller["business_id"].value_counts().le(2).all()
