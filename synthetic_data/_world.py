"""The shared context every partition worker rebuilds: parameters, calendar, places, employers.

Built deterministically from (profile parameters, seed), so a worker process
needs only those two to reproduce it; nothing large crosses process boundaries.
"""

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

    def partition_people(self, k):
        """(first person_id, count) of partition ``k``: contiguous blocks of ids."""
        n = self.params["size"]["people"]
        start = k * self.people_per_partition
        return start + 1, max(0, min(self.people_per_partition, n - start))

    def record_id_base(self, k):
        # Partition k numbers its rows from k * 10^9 + 1: unique without coordination.
        return k * 1_000_000_000 + 1
