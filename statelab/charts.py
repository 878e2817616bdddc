"""Chart helpers for reports to agency leaders: dot plots, bars, slope charts, small multiples, tile maps.

Every helper takes the table to draw and a required ``alt`` text, checks the alt text *before* drawing
(a helper never makes a figure it could not show accessibly), and returns a :class:`Chart`: the
matplotlib ``Figure``, the alt text, and ``data``, the table exactly as drawn (rows in drawing order).
Show it with ``chart.show()``, which goes through :func:`statelab.plotting.show`.

Colors come from the course's Okabe-Ito palette (:data:`statelab.plotting.OKABE_ITO`) and the
color-blind-safe ``cividis`` map; values are labeled directly on the marks, so no chart needs a
legend to be read. Color is never the only cue: a highlighted line is also thicker and has its own
marker, reference lines are dashed and labeled, and counties without a value are hatched and say so.
Marks reach 3:1 and text 4.5:1 contrast against the white figure (:func:`statelab.plotting.contrast_ratio`).
Call :func:`statelab.plotting.use_theme` once per notebook before drawing.

>>> import pandas as pd
>>> from statelab import charts
>>> table = pd.DataFrame({"program": ["adult", "youth"], "rate": [0.31, 0.44]})
>>> chart = charts.dot_plot(table, value="rate", label="program",
...                         alt="Dot plot: youth 44 percent employed, adults 31 percent.")
>>> len(chart.data)
2

The county map is a *tile grid*: one equal square per county, placed by hand (see
``statelab/data/README.md``), because the course has no county boundaries and no network.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from . import plotting, tables

__all__ = [
    "Chart",
    "check_alt",
    "county_tiles",
    "dot_plot",
    "bar_chart",
    "slope_chart",
    "small_multiples",
    "tile_map",
    "MARK_COLOR",
    "REFERENCE_COLOR",
]

#: Color of the data marks (Okabe-Ito blue).
MARK_COLOR: str = plotting.OKABE_ITO["blue"]
#: Color of reference marks and context (a neutral gray, 3.4:1 against white).
REFERENCE_COLOR: str = "#8C8C8C"
#: Text beside reference marks and on "no data" tiles (7.5:1 against white).
_CONTEXT_TEXT_COLOR = "#555555"
_MISSING_COLOR = "#EDEDED"
_MISSING_HATCH_COLOR = "#767676"  # 4.5:1 against white, 3.9:1 against the missing-tile gray
_HIGHLIGHT_COLOR = plotting.OKABE_ITO["vermillion"]
_HIGHLIGHT_TEXT_COLOR = "#A64900"  # vermillion darkened (5.9:1 against white, 3.9:1 plain) for its labels


@dataclass(frozen=True)
class Chart:
    """A drawn chart: the figure, its alt text, and the table it draws (rows in drawing order)."""

    fig: Any
    alt: str
    data: pd.DataFrame

    def show(self, *, caption: str | None = None) -> None:
        """Display the figure with its alt text through :func:`statelab.plotting.show` (and close it)."""
        plotting.show(self.fig, alt=self.alt, caption=caption)

    def table(self, caption: str | None = None) -> Any:
        """The data as drawn, as a table with a caption and header cells (:func:`statelab.tables.format_table`).

        Display it under the figure for readers who want the numbers behind it; the caption defaults to
        "Data drawn in the chart: " and the alt text.
        """
        return tables.format_table(self.data, caption=caption or f"Data drawn in the chart: {self.alt}")


#: The course's one rule for alt text (:func:`statelab.plotting.check_alt`), applied before a helper draws.
check_alt = plotting.check_alt


# --------------------------------------------------------------------------------------- checks
def _check_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.empty:
        raise ValueError("data has no rows: there is nothing to draw")
    return data


def _check_columns(data: pd.DataFrame, **columns: str | None) -> None:
    for role, name in columns.items():
        if name is not None and name not in data.columns:
            raise ValueError(f"{role}={name!r} is not a column of data (columns: {list(data.columns)})")


def _check_format(value_format: Any) -> str:
    if not isinstance(value_format, str):
        raise TypeError(f"value_format must be a format string such as '{{:.0%}}', got {value_format!r}")
    try:
        value_format.format(0.5)
    except (IndexError, KeyError, ValueError) as err:
        raise ValueError(f"value_format must format one number, such as '{{:.0%}}', got {value_format!r}") from err
    return value_format


def _fmt(value_format: str, value: Any) -> str:
    return "–" if value is None or pd.isna(value) else value_format.format(value)


def _numeric(data: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(data[column], errors="coerce")
    if values.isna().all():
        raise ValueError(f"column {column!r} has no numbers to draw")
    return values.astype("float64")


def _new_figure(figsize: tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _percent_axis(axis, value_format: str) -> None:
    if "%" in value_format:
        from matplotlib.ticker import PercentFormatter

        axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


def _titles(ax, title: str | None, xlabel: str | None, ylabel: str | None) -> None:
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)


def _ordered(data: pd.DataFrame, value: str, sort: bool) -> pd.DataFrame:
    out = data.copy()
    if sort:
        out = out.assign(_v=_numeric(out, value)).sort_values("_v", ascending=False, kind="stable")
        out = out.drop(columns="_v")
    return out.reset_index(drop=True)


def _category_labels(data: pd.DataFrame, label: str, count: str | None) -> list[str]:
    names = [str(x) for x in data[label]]
    if count is None:
        return names
    return [f"{n} (n = {int(c):,})" if pd.notna(c) else n for n, c in zip(names, data[count])]


# ----------------------------------------------------------------------------------- dot and bar
def dot_plot(
    data: pd.DataFrame,
    *,
    value: str,
    label: str,
    alt: str,
    title: str | None = None,
    xlabel: str | None = None,
    count: str | None = None,
    reference: float | None = None,
    reference_label: str | None = None,
    value_format: str = "{:.0%}",
    xlim: tuple[float, float] | None = None,
    sort: bool = True,
    figsize: tuple[float, float] | None = None,
) -> Chart:
    """A horizontal dot plot (Cleveland dot plot): one dot per row, its value printed beside it.

    Dots, unlike bars, need not start at zero, so small differences can be read, but the axis range
    must still be honest: by default it runs from 0 to 1 for shares (``value_format`` with ``%``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per category.
    value, label : str
        Columns holding the number and the category name.
    alt : str
        Alt text describing the chart and its message (required; see :func:`check_alt`).
    title, xlabel : str, optional
    count : str, optional
        Column of group sizes, shown as "(n = ...)" after each name.
    reference : float, optional
        A reference value (for example the overall rate), drawn as a gray vertical line.
    reference_label : str, optional
        Text for the reference line, printed beside it (direct label, no legend).
    value_format : str
        Format string for the direct labels, e.g. ``"{:.0%}"`` or ``"${:,.0f}"``.
    xlim : (float, float), optional
        Axis range; default 0-1 for shares, else from 0 to 10 % past the largest value.
    sort : bool
        Sort rows from the largest value (top) down.

    Returns
    -------
    Chart
        ``data`` holds the ``label``, ``value`` (and ``count``) columns in drawing order, top first.
    """
    text = check_alt(alt)
    _check_frame(data)
    _check_columns(data, value=value, label=label, count=count)
    value_format = _check_format(value_format)
    drawn = _ordered(data[[c for c in (label, value, count) if c is not None]], value, sort)
    values = _numeric(drawn, value).to_numpy()
    n = len(drawn)
    fig = _new_figure(figsize or (7.0, 0.9 + 0.42 * n))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    ax.scatter(values, y, s=70, color=MARK_COLOR, zorder=3, clip_on=False)
    ax.set_yticks(y, _category_labels(drawn, label, count))
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", visible=True)
    ax.grid(axis="y", visible=False)
    if xlim is None:
        top = np.nanmax(values)
        xlim = (0.0, 1.0) if "%" in value_format and top <= 1 else (0.0, top * 1.1 if top > 0 else 1.0)
    ax.set_xlim(*xlim)
    ax.set_ylim(-0.7, n - 0.3)
    span = xlim[1] - xlim[0]
    for xi, yi, v in zip(values, y, values):
        ax.annotate(_fmt(value_format, v), (xi, yi), xytext=(8, 0), textcoords="offset points",
                    va="center", ha="left", fontsize="small", color=plotting.TEXT_COLOR)
    if reference is not None:
        ax.axvline(reference, color=REFERENCE_COLOR, linestyle="--", linewidth=1.2, zorder=2)
        if reference_label:
            ax.text(reference + span * 0.01, n - 0.45, reference_label, color=_CONTEXT_TEXT_COLOR, fontsize="small",
                    ha="left", va="bottom")
    _percent_axis(ax.xaxis, value_format)
    _titles(ax, title, xlabel, None)
    return Chart(fig, text, drawn)


def bar_chart(
    data: pd.DataFrame,
    *,
    value: str,
    label: str,
    alt: str,
    title: str | None = None,
    xlabel: str | None = None,
    count: str | None = None,
    value_format: str = "{:.0%}",
    sort: bool = True,
    figsize: tuple[float, float] | None = None,
) -> Chart:
    """Horizontal bars that always start at zero, each labeled with its value.

    A bar's length is its message, so the axis is never cut: there is no option to start elsewhere.
    Use :func:`dot_plot` when the differences to compare are small relative to the values.

    Parameters are as for :func:`dot_plot`.

    Returns
    -------
    Chart
    """
    text = check_alt(alt)
    _check_frame(data)
    _check_columns(data, value=value, label=label, count=count)
    value_format = _check_format(value_format)
    drawn = _ordered(data[[c for c in (label, value, count) if c is not None]], value, sort)
    values = _numeric(drawn, value).to_numpy()
    if np.nanmin(values) < 0:
        raise ValueError(f"bar_chart draws non-negative values from zero; column {value!r} has negatives")
    n = len(drawn)
    fig = _new_figure(figsize or (7.0, 0.9 + 0.42 * n))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    ax.barh(y, np.nan_to_num(values), height=0.6, color=MARK_COLOR, edgecolor="white")
    ax.set_yticks(y, _category_labels(drawn, label, count))
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", visible=True)
    ax.grid(axis="y", visible=False)
    top = np.nanmax(values)
    right = 1.0 if "%" in value_format and top <= 1 else (top * 1.12 if top > 0 else 1.0)
    ax.set_xlim(0, right)
    for yi, v in zip(y, values):
        ax.annotate(_fmt(value_format, v), (0 if pd.isna(v) else v, yi), xytext=(4, 0),
                    textcoords="offset points", va="center", ha="left", fontsize="small", color=plotting.TEXT_COLOR)
    _percent_axis(ax.xaxis, value_format)
    _titles(ax, title, xlabel, None)
    return Chart(fig, text, drawn)


# -------------------------------------------------------------------------------------- slope
def _spread(values: np.ndarray, min_gap: float) -> np.ndarray:
    """Label positions near ``values`` but at least ``min_gap`` apart (order kept)."""
    order = np.argsort(values, kind="stable")
    pos = values[order].astype(float).copy()
    for i in range(1, len(pos)):
        pos[i] = max(pos[i], pos[i - 1] + min_gap)
    shift = (pos - values[order]).mean()  # recenter so labels stay near their points on average
    pos -= max(shift, 0) / 2
    for i in range(1, len(pos)):
        pos[i] = max(pos[i], pos[i - 1] + min_gap)
    out = np.empty_like(pos)
    out[order] = pos
    return out


def slope_chart(
    data: pd.DataFrame,
    *,
    label: str,
    start: str,
    end: str,
    alt: str,
    start_label: str,
    end_label: str,
    title: str | None = None,
    ylabel: str | None = None,
    value_format: str = "{:.0%}",
    highlight: str | None = None,
    ylim: tuple[float, float] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Chart:
    """A slope chart: each row is a line from its ``start`` value (left) to its ``end`` value (right).

    Each line is labeled directly: the start value on the left, the end value and the row's name on
    the right, so there is no legend to match colors against.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per line.
    label : str
        Column of line names.
    start, end : str
        Columns of the two values.
    alt : str
        Alt text (required; see :func:`check_alt`).
    start_label, end_label : str
        What the two columns of points are (e.g. "2nd quarter after exit").
    title, ylabel : str, optional
    value_format : str
    highlight : str, optional
        The name of one line to stand out: drawn in a contrasting color, thicker, with diamond markers and
        bold labels (so it stands out without color too); the others are drawn in the mark color.
    ylim : (float, float), optional
        Default 0-1 for shares.

    Returns
    -------
    Chart
        ``data`` holds ``label``, ``start``, ``end`` and ``change`` (end minus start), in input order.
    """
    text = check_alt(alt)
    _check_frame(data)
    _check_columns(data, label=label, start=start, end=end)
    value_format = _check_format(value_format)
    for name, given in (("start_label", start_label), ("end_label", end_label)):
        if not isinstance(given, str) or not given.strip():
            raise ValueError(f"{name} must say what the points are, got {given!r}")
    drawn = data[[label, start, end]].reset_index(drop=True).copy()
    a, b = _numeric(drawn, start).to_numpy(), _numeric(drawn, end).to_numpy()
    drawn["change"] = b - a
    if highlight is not None and highlight not in set(map(str, drawn[label])):
        raise ValueError(f"highlight={highlight!r} is not one of the {label!r} values {list(drawn[label])}")
    fig = _new_figure(figsize or (6.0, 4.6))
    ax = fig.add_subplot()
    if ylim is None:
        lo, hi = np.nanmin(np.r_[a, b]), np.nanmax(np.r_[a, b])
        ylim = (0.0, 1.0) if "%" in value_format and hi <= 1 and lo >= 0 else (min(0.0, lo), hi * 1.1 or 1.0)
    ax.set_ylim(*ylim)
    gap = (ylim[1] - ylim[0]) * 0.045
    left_pos, right_pos = _spread(a, gap), _spread(b, gap)
    for i, name in enumerate(map(str, drawn[label])):
        lit = highlight is not None and name == highlight
        color, text_color = (_HIGHLIGHT_COLOR, _HIGHLIGHT_TEXT_COLOR) if lit else (MARK_COLOR, MARK_COLOR)
        ax.plot([0, 1], [a[i], b[i]], color=color, marker="D" if lit else "o", linestyle="-",
                linewidth=3.2 if lit else 2, zorder=4 if lit else 3)
        weight = "bold" if lit else "normal"
        ax.annotate(_fmt(value_format, a[i]), (0, left_pos[i]), xytext=(-8, 0), textcoords="offset points",
                    ha="right", va="center", fontsize="small", color=text_color, fontweight=weight)
        ax.annotate(f"{_fmt(value_format, b[i])}  {name}", (1, right_pos[i]), xytext=(8, 0),
                    textcoords="offset points", ha="left", va="center", fontsize="small", color=text_color,
                    fontweight=weight)
    ax.set_xlim(-0.35, 1.6)
    ax.set_xticks([0, 1], [start_label, end_label])
    ax.grid(False)
    ax.spines["bottom"].set_visible(False)
    ax.tick_params(axis="x", length=0)
    _percent_axis(ax.yaxis, value_format)
    _titles(ax, title, None, ylabel)
    return Chart(fig, text, drawn)


# ---------------------------------------------------------------------------- small multiples
def small_multiples(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    panel: str,
    alt: str,
    reference: pd.DataFrame | None = None,
    reference_label: str | None = None,
    panel_order: Sequence[Any] | None = None,
    panel_titles: dict | None = None,
    ncols: int = 2,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    value_format: str = "{:.0%}",
    ylim: tuple[float, float] | None = None,
    vline: float | None = None,
    figsize: tuple[float, float] | None = None,
) -> Chart:
    """One small line chart per group, on shared axes, with an optional gray reference line in each.

    Parameters
    ----------
    data : pandas.DataFrame
        Long table: one row per panel and ``x`` value.
    x, y, panel : str
        Columns for the horizontal axis, the value and the panel (group).
    alt : str
        Alt text (required; see :func:`check_alt`).
    reference : pandas.DataFrame, optional
        A table with columns ``x`` and ``y`` (for example the whole region) drawn as a gray dashed line,
        without markers, in every panel.
    reference_label : str, optional
        Direct label for the reference line (printed once, in the first panel).
    panel_order : sequence, optional
        Panel values in the order to draw them; default sorted.
    panel_titles : dict, optional
        Display name for each panel value (e.g. state FIPS code to state name).
    ncols : int
        Panels per row.
    title, xlabel, ylabel : str, optional
        Figure title and shared axis labels.
    value_format : str
        Format of the value axis (``%`` gives a percent axis from 0 to 100 %).
    ylim : (float, float), optional
    vline : float, optional
        An ``x`` position to mark in every panel (for example 0, the event quarter), as a dotted gray line.

    Returns
    -------
    Chart
        ``data`` holds ``panel``, ``x`` and ``y`` sorted by panel (in drawing order) then ``x``.
    """
    text = check_alt(alt)
    _check_frame(data)
    _check_columns(data, x=x, y=y, panel=panel)
    value_format = _check_format(value_format)
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive whole number, got {ncols!r}")
    if reference is not None:
        _check_frame(reference)
        _check_columns(reference, x=x, y=y)
    present = list(pd.unique(data[panel]))
    order = list(panel_order) if panel_order is not None else sorted(present, key=str)
    missing = [p for p in order if p not in present]
    if missing:
        raise ValueError(f"panel_order names panels with no data: {missing!r}")
    order += [p for p in sorted(present, key=str) if p not in order]
    names = {p: str((panel_titles or {}).get(p, p)) for p in order}
    drawn = data[[panel, x, y]].copy()
    drawn["_o"] = drawn[panel].map({p: i for i, p in enumerate(order)})
    drawn = drawn.sort_values(["_o", x], kind="stable").drop(columns="_o").reset_index(drop=True)
    n = len(order)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = _new_figure(figsize or (3.4 * ncols + 0.4, 2.5 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    if ylim is None and "%" in value_format:
        ylim = (0.0, 1.0)
    for i, p in enumerate(order):
        ax = axes[i // ncols][i % ncols]
        part = drawn[drawn[panel] == p]
        if reference is not None:
            ref = reference.sort_values(x)
            ax.plot(ref[x], _numeric(ref, y), color=REFERENCE_COLOR, linestyle="--", marker="", linewidth=1.5,
                    zorder=2)
            if i == 0 and reference_label:
                ax.annotate(reference_label, (ref[x].iloc[0], _numeric(ref, y).iloc[0]), xytext=(0, 8),
                            textcoords="offset points", fontsize="x-small", color=_CONTEXT_TEXT_COLOR)
        ax.plot(part[x], _numeric(part, y), color=MARK_COLOR, marker="o", linestyle="-", markersize=3.5, zorder=3)
        if vline is not None:
            ax.axvline(vline, color=REFERENCE_COLOR, linestyle=":", marker="", linewidth=1, zorder=1)
        ax.set_title(names[p], fontsize="medium")
        if ylim is not None:
            ax.set_ylim(*ylim)
        _percent_axis(ax.yaxis, value_format)
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    if title:
        fig.suptitle(title, x=0.02, ha="left")
    if xlabel:
        fig.supxlabel(xlabel, fontsize="medium")
    if ylabel:
        fig.supylabel(ylabel, fontsize="medium")
    return Chart(fig, text, drawn)


# ---------------------------------------------------------------------------------- tile map
def county_tiles() -> pd.DataFrame:
    """The packaged tile-grid layout of the region's 39 counties (see ``statelab/data/README.md``).

    Returns
    -------
    pandas.DataFrame
        ``county_fips, state_fips, state_abbr, county_name, tile_label, row, col``. Rows and columns
        are grid cells placed by hand (row 0 north, column 0 west), **not** coordinates.
    """
    path = resources.files("statelab").joinpath("data", "county_tiles.csv")
    with path.open("r", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = pd.DataFrame(rows)
    out["row"] = out["row"].astype("int64")
    out["col"] = out["col"].astype("int64")
    return out


def tile_map(
    data: pd.DataFrame,
    *,
    value: str,
    alt: str,
    key: str = "county_fips",
    count: str | None = None,
    min_count: int | None = None,
    tiles: pd.DataFrame | None = None,
    title: str | None = None,
    legend_label: str | None = None,
    value_format: str = "{:.0%}",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "cividis",
    figsize: tuple[float, float] | None = None,
) -> Chart:
    """A tile-grid map: every county is one equal square, colored by ``value`` and labeled with it.

    Equal tiles give a small county (St. Louis city) as much ink as a large one, which suits rates; the
    price is that shape, size and exact position are gone (the layout is schematic, not geography).
    Counties with no value, or with fewer than ``min_count`` in ``count``, are drawn gray, hatched and labeled
    "no data" or "too few": a rate from a handful of people is noise, and module 12's disclosure rules would
    hide it. Every label is black or white, whichever contrasts more with its tile (at least 4.5:1).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per county (counties absent from ``data`` are drawn as "no data").
    value : str
        Column to map.
    alt : str
        Alt text (required; see :func:`check_alt`).
    key : str
        Column of 5-digit county FIPS codes.
    count : str, optional
        Column of group sizes behind each value.
    min_count : int, optional
        Hide values whose ``count`` is below this.
    tiles : pandas.DataFrame, optional
        A layout with the columns of :func:`county_tiles`; default the packaged one.
    title, legend_label : str, optional
        Chart title and color-bar label.
    value_format : str
    vmin, vmax : float, optional
        Color scale limits; default the range of the shown values.
    cmap : str
        A matplotlib color map; the default ``cividis`` is readable with color-vision deficiencies.

    Returns
    -------
    Chart
        ``data`` is the layout joined to the values, one row per tile in layout order, with ``shown``
        (bool) and ``tile_text`` (the text printed on the tile).
    """
    text = check_alt(alt)
    _check_frame(data)
    _check_columns(data, value=value, key=key, count=count)
    value_format = _check_format(value_format)
    if min_count is not None and count is None:
        raise ValueError("min_count needs count: name the column of group sizes")
    layout = county_tiles() if tiles is None else tiles.copy()
    _check_columns(layout, county_fips="county_fips", row="row", col="col", tile_label="tile_label")
    values = data[[c for c in (key, value, count) if c is not None]].copy()
    values[key] = values[key].astype(str)
    if values[key].duplicated().any():
        dup = values.loc[values[key].duplicated(), key].iloc[0]
        raise ValueError(f"data has more than one row for {key}={dup!r}")
    unknown = sorted(set(values[key]) - set(layout["county_fips"].astype(str)))
    if unknown:
        raise ValueError(f"counties not in the tile layout: {unknown}")
    drawn = layout.merge(values.rename(columns={key: "county_fips"}), on="county_fips", how="left")
    drawn[value] = pd.to_numeric(drawn[value], errors="coerce").astype("float64")
    shown = drawn[value].notna()
    if min_count is not None:
        shown &= pd.to_numeric(drawn[count], errors="coerce").fillna(0) >= min_count
    drawn["shown"] = shown.astype(bool)
    import matplotlib as mpl
    from matplotlib.patches import Rectangle

    lo = vmin if vmin is not None else (drawn.loc[shown, value].min() if shown.any() else 0.0)
    hi = vmax if vmax is not None else (drawn.loc[shown, value].max() if shown.any() else 1.0)
    if not hi > lo:
        lo, hi = lo - 0.05, hi + 0.05
    norm = mpl.colors.Normalize(vmin=lo, vmax=hi)
    colormap = mpl.colormaps[cmap]
    nrows, ncols = int(layout["row"].max()) + 1, int(layout["col"].max()) + 1
    fig = _new_figure(figsize or (0.78 * ncols + 1.6, 0.72 * nrows + 0.9))
    ax = fig.add_subplot()
    labels = []
    for r in drawn.itertuples(index=False):
        v = getattr(r, value)
        if r.shown:
            face = colormap(norm(v))
            label = f"{r.tile_label}\n{_fmt(value_format, v)}"
            color = plotting.readable_text_color(face)
            hatch = None
        else:
            face, color, hatch = _MISSING_COLOR, "#000000", "///"
            label = f"{r.tile_label}\n{'no data' if pd.isna(v) else 'too few'}"
        # matplotlib draws a hatch in the edge color: a gray edge keeps the hatch visible on the gray tile
        edge = "white" if hatch is None else _MISSING_HATCH_COLOR
        ax.add_patch(Rectangle((r.col + 0.04, -r.row - 0.96), 0.92, 0.92, facecolor=face, edgecolor=edge,
                               hatch=hatch, linewidth=1))
        # on a hatched tile the label sits on a plain patch of the tile's gray, so no hatch line crosses it
        backing = None if hatch is None else {"facecolor": face, "edgecolor": "none", "pad": 1.0}
        ax.text(r.col + 0.5, -r.row - 0.5, label, ha="center", va="center", fontsize=6.5, color=color, bbox=backing)
        abbr = getattr(r, "state_abbr", None)
        if isinstance(abbr, str):
            ax.text(r.col + 0.92, -r.row - 0.1, abbr, ha="right", va="top", fontsize=5, color=color)
        labels.append(label.replace("\n", " "))
    drawn["tile_text"] = labels
    ax.set_xlim(0, ncols)
    ax.set_ylim(-nrows, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=colormap)
    bar = fig.colorbar(sm, ax=ax, shrink=0.6, pad=0.02)
    if "%" in value_format:
        from matplotlib.ticker import PercentFormatter

        bar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    if legend_label:
        bar.set_label(legend_label)
    if title:
        ax.set_title(title)
    return Chart(fig, text, drawn)
