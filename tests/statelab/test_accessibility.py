"""What axe-core cannot see in a figure or a table, checked on the course's own helpers (WCAG 2.1 AA).

- Text alternatives state a finding (1.1.1): the alt-text rule refuses a description that only names the
  chart; every figure in the built book is checked against the same rule in ``tests/browser/test_axe.py``.
- Contrast (1.4.3 text 4.5:1, 1.4.11 marks 3:1): computed here from the drawn matplotlib artists, against
  what each sits on (the white figure, or a county's tile).
- Color is never the only cue (1.4.1): series differ in marker or line style, or carry a direct label.
- Tables have a caption and header cells (1.3.1).

Contrast is WCAG 2.1's formula in :func:`statelab.plotting.contrast_ratio`, itself checked here against
published reference values first.
"""

from __future__ import annotations

import html.parser
import itertools

import matplotlib
import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation

from statelab import charts, plotting, tables

matplotlib.use("Agg")

FINDING = "Dislocated workers were employed most often after exit, 68 percent against 31 for adults."
RATES = pd.DataFrame({"program": ["Adult", "Dislocated worker", "Youth"], "rate": [0.31, 0.68, 0.44],
                      "n": [536, 783, 117], "later": [0.33, 0.72, 0.50]})
SERIES = pd.DataFrame({"state": np.repeat(["IL", "IN", "KY"], 3), "q": np.tile([-1, 0, 1], 3),
                       "rate": [0.3, 0.4, 0.5, 0.35, 0.45, 0.5, 0.2, 0.3, 0.6]})
REGION = pd.DataFrame({"q": [-1, 0, 1], "rate": [0.3, 0.4, 0.5]})


def _tiles() -> pd.DataFrame:
    # values over the whole color map, so tile labels are checked on the darkest and the lightest tiles
    tiles = charts.county_tiles()
    return pd.DataFrame({"county_fips": tiles["county_fips"].iloc[:20], "rate": np.linspace(0.0, 1.0, 20),
                         "n": [5] + [50] * 19})


#: Every chart helper, with the options that add reference marks, highlights and hidden values.
DRAW = {
    "dot_plot": lambda: charts.dot_plot(RATES, value="rate", label="program", count="n", reference=0.5,
                                        reference_label="All exiters", title="T", xlabel="Share", alt=FINDING),
    "bar_chart": lambda: charts.bar_chart(RATES, value="rate", label="program", title="T", alt=FINDING),
    "slope_chart": lambda: charts.slope_chart(RATES, label="program", start="rate", end="later", alt=FINDING,
                                              start_label="Q2", end_label="Q4", highlight="Youth", title="T"),
    "small_multiples": lambda: charts.small_multiples(SERIES, x="q", y="rate", panel="state", alt=FINDING,
                                                      reference=REGION, reference_label="Region", vline=0,
                                                      title="T", xlabel="Quarter", ylabel="Share"),
    "tile_map": lambda: charts.tile_map(_tiles(), value="rate", count="n", min_count=10, alt=FINDING,
                                        title="T", legend_label="Employed"),
}


@pytest.fixture(autouse=True)
def _theme():
    with matplotlib.rc_context():
        plotting.use_theme()
        yield


# ------------------------------------------------------------------------------------------ contrast
@pytest.mark.parametrize("a, b, expected", [
    # WCAG's end points, and WebAIM's well-known boundary grays on white: #767676 passes 4.5:1, #777777 fails
    ("#000000", "#FFFFFF", 21.0), ("#FFFFFF", "#FFFFFF", 1.0), ("#767676", "#FFFFFF", 4.54),
    ("#777777", "#FFFFFF", 4.48), ("#FFFFFF", "#767676", 4.54), ((0.0, 0.0, 0.0, 1.0), "white", 21.0),
])
def test_contrast_ratio_matches_reference_values(a, b, expected):
    assert plotting.contrast_ratio(a, b) == pytest.approx(expected, abs=0.005)


def test_contrast_ratio_refuses_what_is_not_a_color():
    with pytest.raises(ValueError, match="not a color: 'blurple'"):
        plotting.contrast_ratio("blurple")


def test_palette_reaches_graphic_contrast_on_the_figure():
    assert plotting.GRAPHIC_MIN_CONTRAST == 3.0 and plotting.TEXT_MIN_CONTRAST == 4.5  # WCAG 1.4.11, 1.4.3
    low = {c: round(plotting.contrast_ratio(c, plotting.PAGE_BACKGROUND), 2) for c in plotting.PALETTE
           if plotting.contrast_ratio(c, plotting.PAGE_BACKGROUND) < plotting.GRAPHIC_MIN_CONTRAST}
    assert not low, f"palette colors under 3:1 against the figure background: {low}"
    assert len(set(plotting.PALETTE)) == len(plotting.PALETTE) >= 4
    assert set(plotting.PALETTE) <= set(plotting.OKABE_ITO.values())


def test_theme_text_colors_reach_text_contrast():
    rc = matplotlib.rc_params_from_file(str(plotting.STYLE_PATH), use_default_template=False)
    assert matplotlib.colors.to_hex(rc["savefig.facecolor"]) == plotting.PAGE_BACKGROUND.lower()
    colors = {k: rc[k] for k in ("axes.labelcolor", "xtick.color", "ytick.color") if k in rc}
    colors["plotting.TEXT_COLOR"] = plotting.TEXT_COLOR
    low = {k: round(plotting.contrast_ratio(v), 2) for k, v in colors.items()
           if plotting.contrast_ratio(v) < plotting.TEXT_MIN_CONTRAST}
    assert len(colors) == 4 and not low, f"text colors under 4.5:1: {low}"


def test_readable_text_color_always_reaches_text_contrast():
    for face in matplotlib.colormaps["cividis"](np.linspace(0, 1, 101)):
        text = plotting.readable_text_color(face)
        assert plotting.contrast_ratio(text, face) >= plotting.TEXT_MIN_CONTRAST, (face, text)


def _simulate(color: str, matrix: np.ndarray) -> np.ndarray:
    """CIELAB coordinates of ``color`` as seen with a color-vision deficiency (Machado et al. 2009)."""
    rgb = np.array(matplotlib.colors.to_rgb(color))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(matrix @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ seen
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


# Machado, Oliveira & Fernandes (2009), full-severity simulation matrices (linear RGB).
CVD = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


@pytest.mark.parametrize("vision", sorted(CVD))
def test_palette_colors_stay_apart_with_color_vision_deficiencies(vision):
    # 10 CIELAB units is a clearly visible difference; Okabe-Ito's light colors, kept out of the cycle,
    # would fail it once darkened to 3:1 (dark orange against vermillion is under 5 for deuteranopia).
    seen = {c: _simulate(c, CVD[vision]) for c in plotting.PALETTE}
    close = [(a, b, round(float(np.linalg.norm(seen[a] - seen[b])), 1))
             for a, b in itertools.combinations(plotting.PALETTE, 2) if np.linalg.norm(seen[a] - seen[b]) < 10]
    assert not close, f"palette colors that look alike with {vision}: {close}"


# ------------------------------------------------------------------------------ not color alone
def test_theme_cycle_is_the_palette_with_a_shape_for_each_color():
    rc = matplotlib.rc_params_from_file(str(plotting.STYLE_PATH), use_default_template=False)
    cycle = list(rc["axes.prop_cycle"])
    assert [matplotlib.colors.to_hex(e["color"]).upper() for e in cycle] == list(plotting.PALETTE)
    assert [e["marker"] for e in cycle] == list(plotting.MARKERS)
    assert [e["linestyle"] for e in cycle] == list(plotting.LINESTYLES)
    assert len(set(plotting.MARKERS)) == len(plotting.MARKERS)  # any two series differ in shape


def test_themed_series_differ_in_shape_or_line_style():
    fig = matplotlib.figure.Figure()  # the autouse fixture applied the theme
    ax = fig.add_subplot()
    lines = [ax.plot([0, 1, 2], [i, i + 1, i])[0] for i in range(len(plotting.PALETTE))]
    looks = [(ln.get_marker(), ln.get_linestyle()) for ln in lines]
    assert all(marker not in (None, "None", "", " ") for marker, _ in looks)
    for (i, a), (j, b) in itertools.combinations(enumerate(looks), 2):
        assert a != b, f"series {i} and {j} differ only by color: {a}"


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_dot_plot_reference_is_dashed_and_labeled():
    fig = DRAW["dot_plot"]().fig
    ax = fig.axes[0]
    (ref,) = [ln for ln in ax.lines if ln.get_color() == charts.REFERENCE_COLOR]
    assert ref.get_linestyle() == "--" and "All exiters" in _texts(fig)
    assert sorted(t for t in _texts(fig) if t.endswith("%")) == ["31%", "44%", "68%"]  # values on the marks


def test_bar_chart_prints_every_value():
    fig = DRAW["bar_chart"]().fig
    assert sorted(_texts(fig)) == ["31%", "44%", "68%"]


def test_slope_chart_highlight_differs_without_color_and_every_line_is_named():
    chart = DRAW["slope_chart"]()
    ax = chart.fig.axes[0]
    texts = _texts(chart.fig)
    for name in RATES["program"]:
        assert any(t.endswith(f"  {name}") for t in texts), f"line {name!r} has no direct label"
    lit = [ln for ln, name in zip(ax.lines, chart.data["program"]) if name == "Youth"][0]
    others = [ln for ln, name in zip(ax.lines, chart.data["program"]) if name != "Youth"]
    for other in others:
        assert (lit.get_marker(), lit.get_linewidth()) != (other.get_marker(), other.get_linewidth())
        assert lit.get_linewidth() > other.get_linewidth()
    bold = [t for t in ax.texts if "Youth" in t.get_text()]
    assert bold and all(t.get_fontweight() == "bold" for t in bold)


def test_small_multiples_reference_and_marker_line_differ_in_style():
    chart = DRAW["small_multiples"]()
    for ax in (a for a in chart.fig.axes if a.get_visible()):
        data = [ln for ln in ax.lines if ln.get_color() == charts.MARK_COLOR]
        ref = [ln for ln in ax.lines if ln.get_color() == charts.REFERENCE_COLOR and len(ln.get_xdata()) == 3]
        assert len(data) == 1 and len(ref) == 1
        assert (data[0].get_linestyle(), data[0].get_marker()) != (ref[0].get_linestyle(), ref[0].get_marker())
    assert "Region" in _texts(chart.fig)


def test_tile_map_says_which_tiles_have_no_value_in_text_and_hatching():
    chart = DRAW["tile_map"]()
    ax = chart.fig.axes[0]
    hidden = chart.data[~chart.data["shown"]]
    assert len(hidden) == len(chart.data) - 19
    assert hidden["tile_text"].str.contains("no data|too few").all()
    assert chart.data.loc[chart.data["shown"], "tile_text"].str.contains(r"\d+%").all()
    squares = [p for p in ax.patches if isinstance(p, Rectangle)]
    hatched = [p for p in squares if p.get_hatch()]
    assert len(hatched) == len(hidden)
    for p in hatched:  # the hatch is drawn in the edge color: it must show on the gray tile
        assert plotting.contrast_ratio(p.get_edgecolor(), p.get_facecolor()) >= plotting.GRAPHIC_MIN_CONTRAST


# ------------------------------------------------------------------------------ contrast of drawn artists
def _background_of(text, ax, squares) -> tuple:
    """The face a text sits on: the tile under a text placed in data coordinates, else the white figure.

    (Annotations are printed beside the point they annotate, on the figure, so only plain texts count.)
    """
    if isinstance(text, Annotation) or text.get_transform() != ax.transData:
        return plotting.PAGE_BACKGROUND
    x, y = text.get_position()
    for p in squares:
        if p.get_x() <= x <= p.get_x() + p.get_width() and p.get_y() <= y <= p.get_y() + p.get_height():
            return p.get_facecolor()
    return plotting.PAGE_BACKGROUND


@pytest.mark.parametrize("helper", sorted(DRAW))
def test_every_text_in_a_chart_reaches_text_contrast(helper):
    fig = DRAW[helper]().fig
    fig.canvas.draw()  # tick labels exist once drawn
    low = []
    for ax in fig.axes:
        squares = [p for p in ax.patches if isinstance(p, Rectangle)]
        texts = [*ax.texts, ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                 *ax.get_xticklabels(), *ax.get_yticklabels()]
        for t in texts:
            if t.get_text().strip() and t.get_visible() and ax.get_visible():
                ratio = plotting.contrast_ratio(t.get_color(), _background_of(t, ax, squares))
                if ratio < plotting.TEXT_MIN_CONTRAST:
                    low.append((t.get_text(), t.get_color(), round(ratio, 2)))
    for t in fig.texts:
        if t.get_text().strip() and plotting.contrast_ratio(t.get_color()) < plotting.TEXT_MIN_CONTRAST:
            low.append((t.get_text(), t.get_color()))
    assert not low, f"{helper}: text under 4.5:1 against its background: {low}"


@pytest.mark.parametrize("helper", sorted(set(DRAW) - {"tile_map"}))
def test_every_mark_in_a_chart_reaches_graphic_contrast(helper):
    # (tile_map's tiles are colored by value and every tile prints its value, so the color is not needed to
    # read it; its labels are checked above)
    fig = DRAW[helper]().fig
    colors = []
    for ax in fig.axes:
        colors += [ln.get_color() for ln in ax.lines if isinstance(ln, Line2D)]
        colors += [tuple(fc) for c in ax.collections if isinstance(c, PathCollection) for fc in c.get_facecolors()]
        colors += [p.get_facecolor() for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]
    assert colors, f"{helper} drew no marks"
    low = {str(c) for c in colors if plotting.contrast_ratio(c) < plotting.GRAPHIC_MIN_CONTRAST}
    assert not low, f"{helper}: marks under 3:1 against the white figure: {low}"


# ------------------------------------------------------------------------------------------ alt text
@pytest.mark.parametrize("alt", [
    "Line chart of median earnings by quarter",
    "Bar chart showing employment by county in the region",
    "Dot plot of the employment rate by funding stream.",
])
def test_alt_that_only_names_the_chart_is_refused(alt):
    with pytest.raises(ValueError, match="state what the figure finds"):
        plotting.check_alt(alt)
    for helper in ("dot_plot", "bar_chart"):
        with pytest.raises(ValueError, match="state what the figure finds"):
            getattr(charts, helper)(RATES, value="rate", label="program", alt=alt)


@pytest.mark.parametrize("alt", [
    FINDING,
    "Line chart of median earnings by quarter: they rose from $8,100 in 2019 to $9,400 in 2023.",
    "Two overlapping histograms of scores; the distributions overlap heavily.",
    "Slope chart: every program's employment rate is higher in the 4th quarter than in the 2nd.",
])
def test_alt_that_states_a_finding_is_kept(alt):
    assert plotting.check_alt(alt) == alt
    assert plotting.states_a_finding(alt)


@pytest.mark.parametrize("helper", sorted(DRAW))
def test_every_helper_figure_carries_its_finding_into_the_page(helper):
    chart = DRAW[helper]()
    page = plotting.figure_html(chart.fig, chart.alt)
    img = _Tags(page).find("img")
    assert len(img) == 1 and img[0]["alt"] == FINDING


# -------------------------------------------------------------------------------------------- tables
class _Tags(html.parser.HTMLParser):
    """Start tags (with attributes) and the text inside each tag name, from an HTML fragment."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)
        self.text.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if tag in self._open:
            self._open.remove(tag)

    def handle_data(self, data):
        for tag in set(self._open):
            self.text[tag][-1] += data

    def find(self, name: str) -> list[dict]:
        return [attrs for tag, attrs in self.tags if tag == name]


def test_table_has_a_caption_and_header_cells():
    styled = tables.format_table(RATES, caption="Employment rate by funding stream", percent=["rate"],
                                 percent_decimals=0)
    tags = _Tags(styled.to_html())
    assert [c.strip() for c in tags.text["caption"]] == ["Employment rate by funding stream"]
    assert [h.strip() for h in tags.text["th"]] == list(RATES.columns)
    assert "68%" in [d.strip() for d in tags.text["td"]]
    rows = _Tags(tables.format_table(RATES.set_index("program"), caption="By stream", index=True).to_html())
    assert {"Adult", "Dislocated worker", "Youth"} <= {h.strip() for h in rows.text["th"]}  # row headers


@pytest.mark.parametrize("caption", ["", "   "])
def test_table_refuses_a_blank_caption(caption):
    with pytest.raises(ValueError, match="caption is blank"):
        tables.format_table(RATES, caption=caption)
    with pytest.raises(TypeError, match="DataFrame"):
        tables.format_table(RATES.to_dict(), caption="Rates")


@pytest.mark.parametrize("helper", sorted(DRAW))
def test_every_chart_offers_its_data_as_a_captioned_table(helper):
    chart = DRAW[helper]()
    tags = _Tags(chart.table().to_html())
    assert tags.text["caption"][0].strip() == f"Data drawn in the chart: {FINDING}"
    assert [h.strip() for h in tags.text["th"]] == [str(c) for c in chart.data.columns]
    assert len(tags.find("tr")) == len(chart.data) + 1
