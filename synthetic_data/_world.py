"""The shared context every partition worker rebuilds: parameters, calendar, places, employers.

Built deterministically from (profile parameters, seed), so a worker process
needs only those two to reproduce it; nothing large crosses process boundaries.
"""

import functools

import numpy as np

from . import _reference as ref
from ._calendar import Calendar
from ._columns import fixed_width
from ._employers import make_employers
from ._labor import EmployerSampler
from ._policy import PandemicUI, UILaw, annual, wage_index

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
        # the 2020 shock's quarters of slow hiring (read by programs that respond to it)
        pan = params["pandemic"]
        start = self.cal.index(pan["start"]) + 1
        self.recession = np.zeros(self.T, dtype=bool)
        self.recession[max(start, 0):max(start + pan["slow_hiring_quarters"], 0)] = True
        # nominal wages by quarter, and each state's level relative to the region's
        er = params["earnings"]
        q1 = er.get("season_q1_by_year", {})
        years = self.cal.year(np.arange(self.T)) + 0.125
        q1_level = (np.interp(years, [int(y) for y in q1], list(q1.values())) if q1
                    else np.full(self.T, er["season"][0]))
        self.season = np.where(np.arange(self.T) % 4 == 0, q1_level, np.asarray(er["season"])[np.arange(self.T) % 4])
        self.wage_level = wage_index(self.cal, 0, skip_years=params["earnings"]["wage_level_skip_years"])
        aww = np.array([annual("state_average_weekly_wage", f)[2016] for f in self.geo.state_fips])
        pop = np.bincount(self.geo.county_state, weights=self.geo.county_pop, minlength=self.S)
        self.state_wage = np.log(aww) - np.log(np.average(aww, weights=pop))
        self.ui_law = UILaw(self.geo.state_fips)
        self.pandemic_ui = PandemicUI(self.geo.state_fips)
        self.people_per_partition = -(-params["size"]["people"] // params["size"]["partitions"])

    # Derived from the employers and the same for every partition: a worker process running
    # many partitions of one world builds them once.
    @functools.cached_property
    def employer_sampler(self):
        """Size-weighted draws of an active establishment by (state, sector) and quarter."""
        return EmployerSampler(self)

    @functools.cached_property
    def codes(self):
        """Fixed-width codes that fill whole columns (accounts, EINs, FIPS) as ``(bytes, valid)``.

        About 10^5 account numbers for `large`: encoded once, then gathered per row with numpy.
        """
        return {"ui_account": fixed_width(self.employers["ui_account"], 10),
                "reported_ein": fixed_width(self.employers["reported_ein"], 9),
                "state_fips": fixed_width(self.geo.state_fips, 2), "county_fips": fixed_width(self.geo.county_fips, 5)}

    def release_partition_caches(self):
        """Drop what only partition builders read, once a process has built its last partition.

        The employer sampler keeps every quarter's sampling tables and growth shocks (about 360 MB
        for `large`: 528 k establishments x 60 quarters); the tables built after the partitions do
        not read them. A later partition rebuilds them on demand, with the same values.
        """
        self.__dict__.pop("employer_sampler", None)

    def partition_people(self, k):
        """(first person_id, count) of partition ``k``: contiguous blocks of ids."""
        n = self.params["size"]["people"]
        start = k * self.people_per_partition
        return start + 1, max(0, min(self.people_per_partition, n - start))

    def record_id_base(self, k):
        # Partition k numbers its rows from k * 10^9 + 1: unique without coordination.
        return k * 1_000_000_000 + 1
