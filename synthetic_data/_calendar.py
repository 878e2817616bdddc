"""Quarters as integer indexes, and conversions to years, dates and months.

Quarter index 0 is the first quarter of the profile's window. All dates derive
from the profile's explicit ``start_year``; nothing reads today's date.
"""

import numpy as np

__all__ = ["Calendar"]


class Calendar:
    """Quarter arithmetic for a window of ``n_quarters`` starting in ``start_year`` Q1."""

    def __init__(self, start_year, n_quarters):
        self.start_year = int(start_year)
        self.n_quarters = int(n_quarters)

    def year(self, q):
        return (self.start_year + np.asarray(q) // 4).astype(np.int16)

    def quarter(self, q):
        return (np.asarray(q) % 4 + 1).astype(np.int8)

    def index(self, label):
        """Quarter index of a label such as ``"2020Q2"``."""
        year, quarter = str(label).upper().split("Q")
        return (int(year) - self.start_year) * 4 + int(quarter) - 1

    def start_date(self, q):
        """First day of each quarter, as ``datetime64[D]``."""
        q = np.asarray(q)
        months = (self.start_year - 1970) * 12 + q * 3
        return months.astype("datetime64[M]").astype("datetime64[D]")

    def month_date(self, m):
        """First day of month index ``m``."""
        return ((self.start_year - 1970) * 12 + np.asarray(m)).astype("datetime64[M]").astype("datetime64[D]")

    def yyyymm(self, m):
        m = np.asarray(m)
        return ((self.start_year + m // 12) * 100 + m % 12 + 1).astype(np.int32)

    def quarter_of_date(self, d):
        """Quarter index of ``datetime64`` dates."""
        months = np.asarray(d).astype("datetime64[M]").astype(np.int64) - (self.start_year - 1970) * 12
        return months // 3
