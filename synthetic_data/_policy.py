"""Rules and series by date: state UI law, the federal pandemic UI programs, wages and prices.

Read from packaged TOML (``reference/ui_law.toml``, ``pandemic_ui.toml``, ``economy.toml``), each
figure with its source. The simulation always asks for the rule in force on a date, never for "the"
rule: a Kentucky claim filed in 2019 may draw 26 weeks, one filed in 2024 only 16.
"""

import functools
import tomllib
from importlib import resources

import numpy as np

from ._errors import ProfileError

__all__ = ["annual", "wage_index", "UILaw", "PandemicUI", "WBA_BASES"]

#: How a state computes the weekly benefit amount: ``wba_rate`` times these base-period wages.
WBA_BASES = ("high_quarter", "two_high_quarters", "base_period")


@functools.cache
def _file(name):
    return tomllib.loads(resources.files(__package__).joinpath(f"reference/{name}.toml").read_text("utf-8"))


def _day(text):
    return np.datetime64(str(text), "D")


def annual(series, area="US"):
    """``{year: value}`` of an annual series in ``economy.toml`` (for instance ``"cpi_u"``)."""
    values = _file("economy")[series]["values"]
    if area not in values:
        raise ProfileError(f"economy.toml has no {series!r} figures for {area!r}")
    return {int(y): float(v) for y, v in values[area].items() if str(y).isdigit()}


def wage_index(cal, first_q, *, base_year=2019, area="US"):
    """Log nominal wage level of each quarter ``first_q .. cal.n_quarters - 1``, 0 on average in ``base_year``.

    Annual QCEW average weekly wages are placed at mid-year and interpolated linearly in logs, so
    wages rise smoothly within a year; beyond the series the last year's growth continues.
    """
    by_year = annual("average_weekly_wage", area)
    years = np.array(sorted(by_year), dtype=np.float64)
    level = np.log([by_year[int(y)] for y in years]) - np.log(by_year[base_year])
    q = np.arange(first_q, cal.n_quarters)
    t = cal.start_year + (q + 0.5) / 4                     # mid-quarter, in years
    mid = years + 0.5
    out = np.interp(t, mid, level)
    slope_lo, slope_hi = level[1] - level[0], level[-1] - level[-2]
    out = np.where(t < mid[0], level[0] + (t - mid[0]) * slope_lo, out)
    return np.where(t > mid[-1], level[-1] + (t - mid[-1]) * slope_hi, out)


class UILaw:
    """Each state's UI benefit formula, and the parameters in force on any date.

    Parameters
    ----------
    state_fips : sequence of str
        The region's states, in the world's order; :meth:`at` takes indexes into it.
    """

    PERIOD_FIELDS = ("min_wba", "max_wba", "max_weeks", "min_bpw")

    def __init__(self, state_fips):
        raw = _file("ui_law")["states"]
        missing = [s for s in state_fips if s not in raw]
        if missing:
            raise ProfileError(f"reference/ui_law.toml has no UI law for state FIPS {missing!r}")
        laws = [raw[s] for s in state_fips]
        bad = [law.get("wba_basis") for law in laws if law.get("wba_basis") not in WBA_BASES]
        if bad:
            raise ProfileError(f"ui_law.toml: wba_basis {bad[0]!r} is not one of {', '.join(WBA_BASES)}")
        self.basis = np.array([WBA_BASES.index(law["wba_basis"]) for law in laws])
        self.rate = np.array([float(law["wba_rate"]) for law in laws])
        self.mba_bpw_share = np.array([float(law.get("mba_bpw_share", 1e9)) for law in laws])  # none: no cap
        self.min_outside_hq = np.array([float(law.get("min_outside_hq", 0)) for law in laws])
        self.bpw_hq_multiple = np.array([float(law.get("bpw_hq_multiple", 0)) for law in laws])
        self.waiting_week = np.array([bool(law.get("waiting_week", True)) for law in laws])
        self._periods = []
        for fips, law in zip(state_fips, laws):
            periods = sorted(law["period"], key=lambda p: str(p["effective"]))
            rows = {"effective": np.array([_day(p["effective"]) for p in periods])}
            for f in self.PERIOD_FIELDS:
                last = law.get(f)
                col = []
                for p in periods:                         # a period may leave a field unchanged
                    last = p.get(f, last)
                    if last is None:
                        raise ProfileError(f"ui_law.toml: state {fips} period {p['effective']} has no {f}")
                    col.append(float(last))
                rows[f] = np.array(col)
            self._periods.append(rows)

    def at(self, state, dates):
        """The period parameters in force on ``dates`` for states ``state`` (index arrays), as a dict of arrays."""
        state, dates = np.asarray(state), np.asarray(dates, dtype="datetime64[D]")
        out = {f: np.zeros(len(state)) for f in self.PERIOD_FIELDS}
        for s, rows in enumerate(self._periods):          # a handful of states, not a loop over rows
            m = state == s
            pos = np.maximum(np.searchsorted(rows["effective"], dates[m], side="right") - 1, 0)
            for f in self.PERIOD_FIELDS:
                out[f][m] = rows[f][pos]
        return out


class PandemicUI:
    """The federal pandemic programs as they reach a state's benefit file (FPUC, PEUC, PUA, waived waiting week)."""

    def __init__(self, state_fips):
        raw = _file("pandemic_ui")
        self.state_fips = list(state_fips)
        self.fpuc = [(_day(p["start"]), _day(p["end"]), float(p["weekly"])) for p in raw["fpuc"]["periods"]]
        peuc = raw["peuc"]
        self.peuc_start, self.peuc_end = _day(peuc["start"]), _day(peuc["end"])
        steps = sorted(peuc["weeks"], key=lambda w: str(w["from"]))
        self.peuc_from = np.array([_day(w["from"]) for w in steps])
        self.peuc_weeks = np.array([int(w["weeks"]) for w in steps])
        pua = raw["pua"]
        self.pua_start, self.pua_end = _day(pua["start"]), _day(pua["end"])
        self.pua_min_wba = np.array([float(pua["min_wba"][s]) for s in self.state_fips])
        early = raw.get("early_end", {})
        self.end = np.array([_day(early[s]) if s in early else self.peuc_end for s in self.state_fips])
        waived = raw.get("waiting_week_waived", {})
        never = (np.datetime64("NaT"), np.datetime64("NaT"))
        self.waiver = [(_day(waived[s]["start"]), _day(waived[s]["end"])) if s in waived else never
                       for s in self.state_fips]

    def supplement(self, state, week_ending):
        """FPUC dollars added to each paid week ending on ``week_ending`` (0 outside the programs)."""
        week_ending = np.asarray(week_ending, dtype="datetime64[D]")
        out = np.zeros(len(week_ending))
        stop = self.end[np.asarray(state)]
        for start, end, weekly in self.fpuc:
            out[(week_ending >= start) & (week_ending <= np.minimum(end, stop))] = weekly
        return out

    def peuc_weeks_on(self, week_ending):
        """PEUC weeks a claimant may draw in all, as the law stood on ``week_ending``."""
        pos = np.searchsorted(self.peuc_from, np.asarray(week_ending, dtype="datetime64[D]"), side="right") - 1
        return np.where(pos >= 0, self.peuc_weeks[np.maximum(pos, 0)], 0)

    def pua_max_weeks(self, on):
        """PUA weeks payable in all as the law stood on ``on``: the regular 26 plus the PEUC extension."""
        return 26 + self.peuc_weeks_on(on)

    def peuc_open(self, state, week_ending):
        """Whether PEUC pays for a week ending on ``week_ending`` in ``state`` (a state's early end included)."""
        week_ending = np.asarray(week_ending, dtype="datetime64[D]")
        return (week_ending >= self.peuc_start) & (week_ending <= self.end[np.asarray(state)])

    def waiting_week_waived(self, state, by_start):
        by_start = np.asarray(by_start, dtype="datetime64[D]")
        start = np.array([w[0] for w in self.waiver])[np.asarray(state)]
        end = np.array([w[1] for w in self.waiver])[np.asarray(state)]
        return (by_start >= start) & (by_start <= end)
