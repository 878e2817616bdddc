"""The shared context every partition worker rebuilds: parameters, calendar, places, employers.

Built deterministically from (profile parameters, seed), so a worker process
needs only those two to reproduce it; nothing large crosses process boundaries.
"""

import functools

import numpy as np

from . import _reference as ref
from ._calendar import Calendar
from ._employers import make_employers

__all__ = ["World"]


class World:
    def __init__(self, params, seed):
        self.params = params
        self.seed = seed
        w = params["window"]
        self.cal = Calendar(w["start_year"], w["quarters"])
        self.T = self.cal.n_quarters
        self.reference_date = np.datetime64(w["reference_date"], "D")
        self.geo = ref.geography(tuple(params["region"]["states"]))
        self.ind = ref.industry()
        self.S = len(self.geo.state_fips)
        self.K = len(self.ind.code)
        self.employers = make_employers(params, seed=seed, world=self)
        rec = params["recession"]
        start = self.cal.index(rec["start"])
        self.recession = np.zeros(self.T, dtype=bool)
        self.recession[max(start, 0):max(start + rec["quarters"], 0)] = True
        self.hit_sector = np.isin(self.ind.code, rec["hit_sectors"])
        self.people_per_partition = -(-params["size"]["people"] // params["size"]["partitions"])

    # Derived from the employers and the same for every partition: a worker process running
    # many partitions of one world builds them once.
    @functools.cached_property
    def employer_sampler(self):
        """Size-weighted draws of an active establishment by (state, sector) and quarter."""
        from ._labor import EmployerSampler

        return EmployerSampler(self)

    @functools.cached_property
    def codes(self):
        """Fixed-width codes that fill whole columns (accounts, EINs, FIPS) as ``(bytes, valid)``.

        About 10^5 account numbers for `large`: encoded once, then gathered per row with numpy.
        """
        from ._partition import fixed_width

        return {"ui_account": fixed_width(self.employers["ui_account"], 10),
                "reported_ein": fixed_width(self.employers["reported_ein"], 9),
                "state_fips": fixed_width(self.geo.state_fips, 2), "county_fips": fixed_width(self.geo.county_fips, 5)}

    def partition_people(self, k):
        """(first person_id, count) of partition ``k``: contiguous blocks of ids."""
        n = self.params["size"]["people"]
        start = k * self.people_per_partition
        return start + 1, max(0, min(self.people_per_partition, n - start))

    def record_id_base(self, k):
        # Partition k numbers its rows from k * 10^9 + 1: unique without coordination.
        return k * 1_000_000_000 + 1
