"""Unit tests for statelab.charts: marks, direct labels, alt text, and the packaged county tiles."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.patches import Rectangle

from statelab import charts, plotting

ALT = "Test chart: three programs, dislocated workers employed most often after exit."
RATES = pd.DataFrame({"program": ["Adult", "Dislocated worker", "Youth"], "rate": [0.31, 0.68, 0.44],
                      "n": [536, 783, 117], "later": [0.33, 0.72, 0.50]})


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def _line_series():
    return pd.DataFrame({"state": np.repeat(["IL", "IN", "KY"], 3), "q": np.tile([-1, 0, 1], 3),
                         "rate": [0.3, 0.4, 0.5, 0.35, 0.45, 0.5, 0.2, 0.3, 0.6]})


def _tile_values():
    tiles = charts.county_tiles()
    return pd.DataFrame({"county_fips": tiles["county_fips"].iloc[:10],
                         "rate": np.linspace(0.3, 0.7, 10), "n": [5, 50, 50, 50, 50, 50, 50, 50, 50, 8]})


#: How to call every chart helper with valid data; the alt text is supplied by each test.
CALLS = {
    "dot_plot": lambda alt: charts.dot_plot(RATES, value="rate", label="program", alt=alt),
    "bar_chart": lambda alt: charts.bar_chart(RATES, value="rate", label="program", alt=alt),
    "slope_chart": lambda alt: charts.slope_chart(RATES, label="program", start="rate", end="later", alt=alt,
                                                  start_label="Q2", end_label="Q4"),
    "small_multiples": lambda alt: charts.small_multiples(_line_series(), x="q", y="rate", panel="state", alt=alt),
    "tile_map": lambda alt: charts.tile_map(_tile_values(), value="rate", alt=alt),
}



def _title(ax) -> str:
    """The axes title wherever the theme places it (the course style puts titles on the left)."""
    return next((t for t in (ax.get_title(loc=loc) for loc in ("left", "center", "right")) if t), "")

def test_every_helper_is_covered():
    helpers = {name for name in charts.__all__
               if inspect.isfunction(getattr(charts, name)) and "alt" in inspect.signature(getattr(charts, name)).parameters}
    assert helpers - {"check_alt"} == set(CALLS)


@pytest.mark.parametrize("helper", sorted(CALLS))
@pytest.mark.parametrize(
    "alt, error",
    [(None, TypeError), ("", ValueError), ("   ", ValueError), ("chart", ValueError), ("Figure.", ValueError),
     ("TODO: write alt text later", ValueError), ("alt text here please", ValueError), ("short", ValueError),
     (42, TypeError)],
)
def test_every_helper_refuses_missing_or_placeholder_alt(helper, alt, error):
    with pytest.raises(error, match="alt"):
        CALLS[helper](alt)


@pytest.mark.parametrize("helper", sorted(CALLS))
def test_every_helper_keeps_alt_and_shows_through_plotting(helper, monkeypatch):
    chart = CALLS[helper]("  Dislocated workers   were employed most often after exit, at 68 percent.  ")
    assert chart.alt == "Dislocated workers were employed most often after exit, at 68 percent."
    seen = {}
    monkeypatch.setattr(plotting, "show", lambda fig, alt, caption=None: seen.update(fig=fig, alt=alt))
    chart.show()
    assert seen == {"fig": chart.fig, "alt": chart.alt}
    assert isinstance(chart.data, pd.DataFrame) and len(chart.data) > 0


def test_check_alt_accepts_a_description_and_is_stricter_than_plotting():
    assert charts.check_alt(ALT) == ALT
    plotting._check_alt(ALT)  # anything charts accepts, plotting.show accepts too


def test_dot_plot_marks_and_labels():
    chart = charts.dot_plot(RATES, value="rate", label="program", count="n", alt=ALT, reference=0.5,
                            reference_label="All exiters", title="T", xlabel="Share employed")
    (ax,) = chart.fig.axes
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(dots) == 1 and len(dots[0].get_offsets()) == 3
    xs = sorted(float(x) for x, _ in dots[0].get_offsets())
    assert xs == pytest.approx(sorted(RATES["rate"]))
    assert list(chart.data["program"]) == ["Dislocated worker", "Youth", "Adult"]  # sorted, top first
    assert sorted(_texts(ax)) == sorted(["68%", "44%", "31%", "All exiters"])
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "Dislocated worker (n = 783)" in ticks
    assert ax.get_xlabel() == "Share employed" and _title(ax) == "T"
    assert ax.get_xlim() == (0.0, 1.0)


def test_bar_chart_starts_at_zero_and_labels_bars():
    chart = charts.bar_chart(RATES, value="n", label="program", alt=ALT, value_format="{:,.0f}", sort=False)
    (ax,) = chart.fig.axes
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 3
    assert sorted(b.get_width() for b in bars) == sorted(RATES["n"])
    assert all(b.get_x() == 0 for b in bars) and ax.get_xlim()[0] == 0
    assert sorted(_texts(ax)) == sorted(["536", "783", "117"])
    with pytest.raises(ValueError, match="negative"):
        charts.bar_chart(RATES.assign(n=-RATES["n"]), value="n", label="program", alt=ALT)


def test_slope_chart_lines_and_direct_labels():
    chart = charts.slope_chart(RATES, label="program", start="rate", end="later", alt=ALT,
                               start_label="2nd quarter", end_label="4th quarter", highlight="Youth")
    (ax,) = chart.fig.axes
    assert len(ax.lines) == 3
    for line, r in zip(ax.lines, RATES.itertuples()):
        assert list(line.get_ydata()) == pytest.approx([r.rate, r.later])
    texts = _texts(ax)
    assert len(texts) == 6 and "72%  Dislocated worker" in texts and "31%" in texts
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2nd quarter", "4th quarter"]
    assert chart.data["change"].tolist() == pytest.approx((RATES["later"] - RATES["rate"]).tolist())
    assert not ax.get_legend()
    with pytest.raises(ValueError, match="highlight"):
        charts.slope_chart(RATES, label="program", start="rate", end="later", alt=ALT, start_label="a",
                           end_label="b", highlight="Nobody")


def test_small_multiples_one_panel_per_group_with_reference():
    ref = pd.DataFrame({"q": [-1, 0, 1], "rate": [0.3, 0.4, 0.5]})
    chart = charts.small_multiples(_line_series(), x="q", y="rate", panel="state", alt=ALT, reference=ref,
                                   reference_label="Region", panel_order=["KY", "IL", "IN"],
                                   panel_titles={"KY": "Kentucky"}, ncols=2, xlabel="Quarter", ylabel="Share")
    visible = [ax for ax in chart.fig.axes if ax.get_visible()]
    assert [_title(ax) for ax in visible] == ["Kentucky", "IL", "IN"]
    assert all(len(ax.lines) == 2 for ax in visible)  # the group and the gray reference
    assert list(visible[0].lines[1].get_ydata()) == pytest.approx([0.2, 0.3, 0.6])
    assert "Region" in _texts(visible[0])
    assert list(chart.data["state"].unique()) == ["KY", "IL", "IN"]
    with pytest.raises(ValueError, match="panel_order"):
        charts.small_multiples(_line_series(), x="q", y="rate", panel="state", alt=ALT, panel_order=["TX"])


def test_tile_map_draws_every_county_and_hides_small_counts():
    tiles = charts.county_tiles()
    chart = charts.tile_map(_tile_values(), value="rate", count="n", min_count=10, alt=ALT,
                            legend_label="Employed")
    ax = chart.fig.axes[0]
    squares = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(squares) == len(tiles) == len(chart.data)
    assert int(chart.data["shown"].sum()) == 8
    text = " | ".join(chart.data["tile_text"])
    assert text.count("too few") == 2 and text.count("no data") == len(tiles) - 10
    assert chart.fig.axes[1].get_ylabel() == "Employed"  # the color bar
    with pytest.raises(ValueError, match="not in the tile layout"):
        charts.tile_map(pd.DataFrame({"county_fips": ["06037"], "rate": [0.5]}), value="rate", alt=ALT)
    with pytest.raises(ValueError, match="min_count needs count"):
        charts.tile_map(_tile_values(), value="rate", min_count=10, alt=ALT)


def test_county_tiles_match_the_region(tiny_con):
    tiles = charts.county_tiles()
    ref = tiny_con.sql("SELECT county_fips, state_fips, county_name FROM ref_county").df()
    merged = tiles.merge(ref, on="county_fips", how="outer", suffixes=("", "_ref"), indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["state_fips"] == merged["state_fips_ref"]).all()
    assert (merged["county_name"] == merged["county_name_ref"]).all()
    assert not tiles.duplicated(["row", "col"]).any()
    assert tiles["row"].min() == 0 and tiles["col"].min() == 0


def test_input_errors_name_the_problem():
    with pytest.raises(ValueError, match="'rates'"):
        charts.dot_plot(RATES, value="rates", label="program", alt=ALT)
    with pytest.raises(TypeError, match="DataFrame"):
        charts.dot_plot(RATES.to_dict(), value="rate", label="program", alt=ALT)
    with pytest.raises(ValueError, match="no rows"):
        charts.dot_plot(RATES.iloc[:0], value="rate", label="program", alt=ALT)
    with pytest.raises(ValueError, match="value_format"):
        charts.dot_plot(RATES, value="rate", label="program", alt=ALT, value_format="{x}")
