"""Tables formatted for people: percentages, dollars, thousands separators, headers with units, no index.

A data frame printed as it is shows ``0.656958`` where a reader wants ``65.7%``, ``10354.0`` where they
want ``$10,354``, and a column of row numbers nobody asked for. :func:`format_table` returns a pandas
``Styler`` that a notebook (and the book built from it) shows as an HTML table; the data frame itself is
not changed, so the numbers stay available for the next cell::

    from statelab import tables

    tables.format_table(rates, percent=["employment_rate_q2"], dollars=["median_earnings_q2"],
                        labels={"employment_rate_q2": "Employed, Q2 after exit",
                                "median_earnings_q2": "Median earnings, Q2 ($)"})

Columns named in no list are formatted by their type: whole numbers with thousands separators,
other numbers with ``decimals`` places, true/false as "yes"/"no", and missing values as ``na``.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = ["format_table"]


def _is_missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array in a cell: not a missing value
        return False


def _formatter(kind: str, digits: int, na: str):
    """One cell formatter; every formatter shows a missing value as ``na``."""

    def percent(v):
        return f"{100 * float(v):,.{digits}f}%"

    def dollars(v):
        return f"${float(v):,.0f}" if float(v) >= 0 else f"-${-float(v):,.0f}"

    def number(v):
        if isinstance(v, numbers.Integral):
            return f"{int(v):,}"
        if isinstance(v, numbers.Real):
            return f"{float(v):,.{digits}f}"
        return str(v)

    def signed(v):
        return f"{float(v):+,.{digits}f}"

    chosen = {"percent": percent, "dollars": dollars, "number": number, "signed": signed}[kind]

    def show(v):
        if _is_missing(v):
            return na
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        return chosen(v)

    return show


def format_table(frame: pd.DataFrame, *, percent=(), dollars=(), signed=(), decimals: int | dict = 2,
                 percent_decimals: int = 1, labels: dict | None = None, index: bool = False,
                 caption: str | None = None, na: str = "–"):
    """Show a data frame as a table for people to read.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; it is not modified.
    percent : sequence of str, keyword-only
        Columns holding shares between 0 and 1, shown as percentages (``0.657`` -> ``65.7%``).
    dollars : sequence of str, keyword-only
        Columns of dollar amounts, shown rounded to the dollar with separators (``$10,354``).
    signed : sequence of str, keyword-only
        Columns of changes or differences, shown with their sign (``+0.12``) and ``decimals`` places.
    decimals : int or dict, keyword-only
        Places for other non-integer numbers: one number for every column, or ``{column: places}``
        (columns not in the dict get 2).
    percent_decimals : int, keyword-only
        Places for percentages.
    labels : dict or None, keyword-only
        Column headers to show instead of the column names, e.g. with units:
        ``{"median_earnings_q2": "Median earnings, Q2 after exit ($)"}``.
    index : bool, keyword-only
        Show the index (for a table whose row labels are in the index). Default: hidden.
    caption : str or None, keyword-only
        A caption above the table, shown as an HTML ``<caption>`` that screen readers read first;
        whitespace is collapsed. Give one for every table a reader meets without a heading that says
        what it shows.
    na : str, keyword-only
        What a missing value shows.

    Returns
    -------
    pandas.io.formats.style.Styler
        Displayed as an HTML table in Jupyter and in the book.

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame.
    ValueError
        If ``caption`` is given but blank.
    KeyError
        If a column named in ``percent``, ``dollars``, ``signed``, ``decimals`` or ``labels`` is not
        in the table; the message names it and the columns there are.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"format_table needs a pandas DataFrame, got {type(frame).__name__}")
    if caption is not None and (not isinstance(caption, str) or not caption.strip()):
        raise ValueError(f"format_table: the caption is blank ({caption!r}); say what the table shows, "
                         "or leave caption out")
    places = decimals if isinstance(decimals, dict) else {}
    default_places = decimals if isinstance(decimals, int) else 2
    named = list(percent) + list(dollars) + list(signed) + list(places) + list(labels or {})
    unknown = [c for c in dict.fromkeys(named) if c not in frame.columns]
    if unknown:
        raise KeyError(f"format_table: no column {', '.join(map(repr, unknown))} in the table; "
                       f"its columns are {', '.join(map(str, frame.columns))}")
    formats = {}
    for column in frame.columns:
        if column in percent:
            formats[column] = _formatter("percent", percent_decimals, na)
        elif column in dollars:
            formats[column] = _formatter("dollars", 0, na)
        elif column in signed:
            formats[column] = _formatter("signed", places.get(column, default_places), na)
        else:
            formats[column] = _formatter("number", places.get(column, default_places), na)
    styler = frame.style.format(formats)
    if labels:
        styler = styler.relabel_index([labels.get(c, c) for c in frame.columns], axis="columns")
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(" ".join(caption.split()))
    return styler
