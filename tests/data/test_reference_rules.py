"""The packaged rules and series (ui_law, pandemic_ui, economy) parse, cite a source for
every figure, and hold together: dates in order, ranges a real state could have, the
indexed durations consistent with the unemployment rates they are indexed to.

No data is generated: the files are read as packaged, with tomllib.
"""

import datetime as dt
import tomllib
from importlib import resources

import pytest

FILES = ("ui_law", "pandemic_ui", "economy")
STATES = ("17", "18", "21", "29")
WINDOW = (dt.date(2014, 1, 1), dt.date(2025, 12, 31))


def _load(name):
    text = resources.files("synthetic_data").joinpath(f"reference/{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


@pytest.fixture(scope="module")
def ref():
    return {name: _load(name) for name in FILES}


def _date(text):
    return dt.date.fromisoformat(text)


def _tables(node, path=(), inherited=None):
    """Yield (path, table, the nearest source at or above it, the nearest note) for every table."""
    if isinstance(node, dict):
        source = node.get("source", inherited[0] if inherited else None)
        note = node.get("note", inherited[1] if inherited else None)
        yield path, node, source, note
        for key, value in node.items():
            yield from _tables(value, (*path, key), (source, note))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _tables(value, (*path, i), inherited)


def _numbers(table):
    """The numeric leaves directly in a table (lists of numbers included), not in sub-tables."""
    for key, value in table.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            yield key, value
        elif isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
            yield key, value


@pytest.mark.parametrize("name", FILES)
def test_every_figure_has_a_source_and_every_source_says_whether_it_was_verified(ref, name):
    for path, table, source, note in _tables(ref[name]):
        figures = list(_numbers(table))
        if figures:
            assert source, f"{name}: {'.'.join(map(str, path))} has figures {figures[:3]} but no source"
        if "source" in table:
            assert isinstance(table.get("verified"), bool), f"{name}: {'.'.join(map(str, path))} has a source but no verified flag"
        if table.get("verified") is False:
            # A figure that was not read in a stored source says what to check.
            assert note, f"{name}: {'.'.join(map(str, path))} is unverified and has no note"


def test_ui_law_periods_are_in_date_order_and_cover_the_window(ref):
    states = ref["ui_law"]["states"]
    assert sorted(states) == list(STATES)
    for fips, law in states.items():
        starts = [_date(p["effective"]) for p in law["period"]]
        assert starts == sorted(starts) and len(set(starts)) == len(starts), fips
        # The first period is in force from the first week of 2014; none starts after the window.
        assert starts[0] <= dt.date(2014, 1, 7), (fips, starts[0])
        assert starts[-1] <= WINDOW[1], fips


def test_ui_law_amounts_are_ones_a_state_could_pay(ref):
    economy = ref["economy"]
    for fips, law in ref["ui_law"]["states"].items():
        # Replacement at the formula: a worker with steady weekly wage w has basis
        # wages 13w (high quarter), 26w (two quarters) or 52w (base period). Every
        # state law replaces between 30% and 70% of the prior wage before the cap.
        weeks = {"high_quarter": 13, "two_high_quarters": 26, "base_period": 52}[law["wba_basis"]]
        assert 0.30 <= law["wba_rate"] * weeks <= 0.70, fips
        assert 0 < law.get("mba_bpw_share", 1.0) <= 1.0, fips
        for period in law["period"]:
            year = _date(period["effective"]).year
            assert 5 <= period["min_wba"] < period["max_wba"], (fips, period)
            # Regular state UI pays at most 26 weeks in these states; the shortest
            # indexed duration any of them set is 12 (Kentucky HB 4, 2023).
            assert 12 <= period["max_weeks"] <= 26, (fips, period)
            # The cap sits between a fifth and four-fifths of the state's average
            # weekly wage (US: about half): a cap outside that range is a typo.
            aww = economy["average_weekly_wage"]["values"][fips][str(year)]
            assert 0.2 <= period["max_wba"] / aww <= 0.8, (fips, year, period["max_wba"], aww)


def test_indexed_durations_match_the_unemployment_rate_they_are_indexed_to(ref):
    # Where a period names the schedule it follows, its max_weeks is the schedule's
    # answer at the state's unemployment rate of the previous calendar year (Kentucky
    # uses the last six months, Missouri's HB 150 the last year; the annual rate is
    # far enough from every bound in these years for either to give the same weeks).
    rates = ref["economy"]["unemployment_rate"]["values"]
    checked = 0
    for fips, law in ref["ui_law"]["states"].items():
        schedules = law.get("duration_schedules", {})
        for period in law["period"]:
            if "duration_schedule" not in period:
                continue
            schedule = schedules[period["duration_schedule"]]
            bounds, weeks = schedule["ur_upper"], schedule["weeks"]
            assert len(weeks) == len(bounds) + 1 and bounds == sorted(bounds) and weeks == sorted(weeks)
            rate = rates[fips][str(_date(period["effective"]).year - 1)]
            expected = next((w for b, w in zip(bounds, weeks) if rate <= b), weeks[-1])
            assert period["max_weeks"] == expected, (fips, period["effective"], rate)
            checked += 1
    assert checked >= 3   # Kentucky January and July 2023; Missouri 2016


def _pandemic_dates(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _pandemic_dates(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _pandemic_dates(value, (*path, i))
    elif isinstance(node, str) and len(node) == 10 and node[4] == "-" and node[7] == "-":
        yield path, _date(node)


def test_pandemic_dates_are_in_2020_2021_and_name_real_weeks(ref):
    dates = list(_pandemic_dates(ref["pandemic_ui"]))
    assert len(dates) > 40
    for path, day in dates:
        assert dt.date(2020, 1, 1) <= day <= dt.date(2021, 12, 31), (path, day)
        key = path[-1]
        # States' files name a week by its Saturday; a week starts on the Sunday before.
        if isinstance(key, str) and ("week_ending" in key):
            assert day.weekday() == 5, (path, day)
        if isinstance(key, str) and ("week_start" in key):
            assert day.weekday() == 6, (path, day)


def test_pandemic_programs_run_in_the_order_the_laws_set(ref):
    pandemic = ref["pandemic_ui"]
    fpuc = pandemic["fpuc"]["period"]
    assert [p["amount"] for p in fpuc] == [600, 300]
    assert _date(fpuc[0]["last_week_ending"]) < _date(fpuc[1]["first_week_ending"])   # the gap of August-December 2020
    for program in ("peuc", "pua"):
        periods = pandemic[program]["period"]
        key = "weeks_available" if program == "peuc" else "max_weeks"
        assert [p[key] for p in periods] == sorted(p[key] for p in periods), program    # extensions only add weeks
        for before, after in zip(periods, periods[1:]):
            assert _date(before["last_week_ending"]) < _date(after["first_week_start"]), program
    national_end = _date(fpuc[-1]["last_week_ending"])
    for fips in STATES:
        state = pandemic["states"][fips]
        end = _date(state["programs_end_week_ending"])
        assert (end < national_end) == state["early_end"], fips
        assert 0 < state["pua_min_wba"] < 300, fips
        eb = state["eb"]
        for spell in eb:
            assert _date(spell["on_week_start"]) < _date(spell["off_week_ending"]), fips
            assert spell["max_weeks"] in (13, 20), fips
        for before, after in zip(eb, eb[1:]):
            assert _date(before["off_week_ending"]) < _date(after["on_week_start"]), fips
    assert {f for f in STATES if pandemic["states"][f]["early_end"]} == {"18", "29"}   # Indiana and Missouri


def test_cpi_rises_every_year_of_the_window(ref):
    cpi = {int(y): v for y, v in ref["economy"]["cpi_u_annual"]["values"]["US"].items()}
    assert sorted(cpi) == list(range(2013, 2026))
    # Annual average prices rose in every year 2013-2025 (the last fall was 2009);
    # the slowest year was 2015 (+0.1%), the fastest 2022 (+8.0%).
    changes = {y: cpi[y] / cpi[y - 1] - 1 for y in range(2014, 2026)}
    assert all(0 < c < 0.10 for c in changes.values()), changes
    assert min(changes, key=changes.get) == 2015 and max(changes, key=changes.get) == 2022


def test_economic_series_are_in_plausible_ranges(ref):
    economy = ref["economy"]
    for name, series in economy.items():
        assert series["unit"] and series["source"], name
        values = series["values"]
        for point in series.get("verified_points", []):
            geo, period = point.split(":")
            assert period in values[geo], (name, point)   # a point said to be verified exists
    wages = economy["average_weekly_wage"]["values"]
    for geo, by_year in wages.items():
        years = sorted(int(y) for y in by_year)
        assert years == list(range(2013, 2026)), geo
        # Nominal weekly wages between $500 and $2,500 and never changing more than
        # -5%..+10% in a year (2020's +8% composition jump is the largest).
        assert all(500 <= v <= 2500 for v in by_year.values()), geo
        for y in years[1:]:
            assert -0.05 <= by_year[str(y)] / by_year[str(y - 1)] - 1 <= 0.10, (geo, y)
    quarterly = economy["average_weekly_wage_quarterly"]["values"]["US"]
    for year in range(2019, 2024):
        q = [quarterly[f"{year}Q{i}"] for i in range(1, 5)]
        assert q[0] > max(q[1], q[2]), year   # Q1 is the bonus quarter, above Q2 and Q3
    employment = economy["employment_over_the_year"]["values"]["US"]
    assert min(employment, key=employment.get) == "2020Q2"   # the trough: June 2020
    for geo, by_year in economy["unemployment_rate"]["values"].items():
        assert all(2.0 <= v <= 12.0 for v in by_year.values()), geo
        assert max(by_year, key=by_year.get) in ("2013", "2020"), geo   # the two highs of the window
        assert economy["unemployment_rate_peak_2020"]["values"][geo]["2020"] > by_year["2020"], geo


def test_minimum_wages_never_fall_and_never_go_below_the_federal_rate(ref):
    minimum = ref["economy"]["minimum_wage"]["values"]
    for geo, steps in minimum.items():
        dates = [_date(d) for d in steps]
        rates = list(steps.values())
        assert dates == sorted(dates) and dates[0] <= WINDOW[0], geo
        assert rates == sorted(rates), geo
        assert all(7.25 <= r <= 15.0 for r in rates), geo
    assert set(minimum["18"].values()) == {7.25} and set(minimum["21"].values()) == {7.25}
    assert minimum["17"]["2025-01-01"] == 15.0   # Illinois reached $15 in 2025 (P.A. 101-0001)
