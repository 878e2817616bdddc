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


def wage_index(cal, first_q, *, base_year=2019, area="US", skip_years=()):
    """Log nominal wage level of each quarter ``first_q .. cal.n_quarters - 1``, 0 on average in ``base_year``.

    Annual QCEW average weekly wages are placed at mid-year and interpolated linearly in logs, so
    wages rise smoothly within a year; beyond the series the last year's growth continues.
    ``skip_years`` are left out and bridged: the 2020-2021 averages rose mostly because low-paid
    jobs were lost (a composition effect the simulation makes by itself), not because pay rose.
    """
    by_year = {y: v for y, v in annual("average_weekly_wage", area).items() if y not in skip_years}
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

    PERIOD_FIELDS = ("min_wba", "max_wba", "max_weeks", "min_bpw", "min_hq", "mba_min_weeks")
    _DEFAULTS = {"min_bpw": 0, "min_hq": 0, "mba_min_weeks": 0}

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
        self.min_last_two = np.array([float(law.get("min_last_two_quarters", 0)) for law in laws])
        self.waiting_week = np.array([bool(law.get("waiting_week", True)) for law in laws])
        self._periods = []
        for fips, law in zip(state_fips, laws):
            periods = sorted(law["period"], key=lambda p: str(p["effective"]))
            rows = {"effective": np.array([_day(p["effective"]) for p in periods])}
            for f in self.PERIOD_FIELDS:
                last = law.get(f, self._DEFAULTS.get(f))
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
    """The federal pandemic programs as they reach a state's benefit file.

    FPUC and LWA supplements on each paid week, PEUC extension weeks after regular benefits run
    out (13, then 24, then 53 weeks in all), Extended Benefits while a state's trigger was on, PUA
    for people without enough covered wages, waived waiting weeks, and the early end of the
    programs in states that left them in June 2021.
    """

    def __init__(self, state_fips):
        raw = _file("pandemic_ui")
        self.state_fips = list(state_fips)
        missing = [s for s in self.state_fips if s not in raw["states"]]
        if missing:
            raise ProfileError(f"reference/pandemic_ui.toml has no entry for state FIPS {missing!r}")
        st = [raw["states"][s] for s in self.state_fips]
        self.end = np.array([_day(x["programs_end_week_ending"]) for x in st])
        self.fpuc = [(_day(p["first_week_start"]), _day(p["last_week_ending"]), float(p["amount"]))
                     for p in raw["fpuc"]["period"]]
        self.lwa = [(_day(x["lwa"]["first_week_ending"]), _day(x["lwa"]["last_week_ending"]), float(x["lwa"]["amount"]))
                    for x in st]
        self.lwa_min_wba = float(raw["lwa"].get("min_wba", 0))
        peuc = sorted(raw["peuc"]["period"], key=lambda p: str(p["first_week_start"]))
        self.peuc_start = _day(peuc[0]["first_week_start"])
        self.peuc_end = max(_day(p["last_week_ending"]) for p in peuc)
        self.peuc_from = np.array([_day(p["first_week_start"]) for p in peuc])
        self.peuc_weeks = np.array([int(p["weeks_available"]) for p in peuc])
        pua = sorted(raw["pua"]["period"], key=lambda p: str(p["first_week_start"]))
        self.pua_start = _day(pua[0]["first_week_start"])
        self.pua_end = max(_day(p["last_week_ending"]) for p in pua)
        self.pua_from = np.array([_day(p["first_week_start"]) for p in pua])
        self.pua_weeks = np.array([int(p["max_weeks"]) for p in pua])
        self.pua_min_wba = np.array([float(x["pua_min_wba"]) for x in st])
        self.waiver = [(_day(x["waiting_week_waived"]["from"]), _day(x["waiting_week_waived"]["to"]))
                       if "waiting_week_waived" in x else (np.datetime64("NaT"), np.datetime64("NaT")) for x in st]
        # Extended Benefits: (state index, first week start, last week ending, weeks) while the trigger was on
        self.eb = [(k, _day(e["on_week_start"]), _day(e["off_week_ending"]), int(e["max_weeks"]))
                   for k, x in enumerate(st) for e in x.get("eb", [])]

    def supplement(self, state, week_ending, wba):
        """FPUC and LWA dollars added to each paid week ending on ``week_ending`` (0 outside the programs)."""
        week_ending = np.asarray(week_ending, dtype="datetime64[D]")
        state = np.asarray(state)
        out = np.zeros(len(week_ending))
        stop = self.end[state]
        for start, end, weekly in self.fpuc:
            out[(week_ending >= start + 6) & (week_ending <= np.minimum(end, stop))] += weekly
        lwa_from = np.array([w[0] for w in self.lwa])[state]
        lwa_to = np.array([w[1] for w in self.lwa])[state]
        lwa_amount = np.array([w[2] for w in self.lwa])[state]
        in_lwa = (week_ending >= lwa_from) & (week_ending <= lwa_to) & (np.asarray(wba) >= self.lwa_min_wba)
        return out + np.where(in_lwa, lwa_amount, 0.0)

    def peuc_weeks_on(self, week_ending):
        """PEUC weeks a claimant may draw in all, as the law stood on ``week_ending``."""
        pos = np.searchsorted(self.peuc_from, np.asarray(week_ending, dtype="datetime64[D]") - 6, side="right") - 1
        return np.where(pos >= 0, self.peuc_weeks[np.maximum(pos, 0)], 0)

    def pua_max_weeks(self, on):
        """PUA weeks payable in all as the law stood on ``on`` (39, then 50, then 79)."""
        pos = np.searchsorted(self.pua_from, np.asarray(on, dtype="datetime64[D]"), side="right") - 1
        return self.pua_weeks[np.clip(pos, 0, len(self.pua_weeks) - 1)]

    def peuc_open(self, state, week_ending):
        """Whether PEUC pays for a week ending on ``week_ending`` in ``state`` (a state's early end included)."""
        week_ending = np.asarray(week_ending, dtype="datetime64[D]")
        return (week_ending >= self.peuc_start + 6) & (week_ending <= self.end[np.asarray(state)])

    def eb_weeks(self, state, week_ending):
        """Extended Benefits weeks payable in all for a week ending on ``week_ending`` (0 while the trigger was off)."""
        week_ending = np.asarray(week_ending, dtype="datetime64[D]")
        state = np.asarray(state)
        out = np.zeros(len(week_ending), dtype=np.int64)
        for k, start, end, weeks in self.eb:
            on = (state == k) & (week_ending >= start + 6) & (week_ending <= end)
            out[on] = weeks
        return out

    def waiting_week_waived(self, state, by_start):
        by_start = np.asarray(by_start, dtype="datetime64[D]")
        start = np.array([w[0] for w in self.waiver])[np.asarray(state)]
        end = np.array([w[1] for w in self.waiver])[np.asarray(state)]
        return (by_start >= start) & (by_start <= end)
