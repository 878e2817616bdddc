"""Disclosure review: check, protect and package tables before they leave the enclave.

The rules (defaults in :class:`Rules`; see the course's data reference):

* at least 10 individuals behind every published cell (``min_cell_size``: the course's one value; an enclave with
  another minimum sets it with ``Rules().replace(min_cell_size=...)``);
* for employer data, at least 3 employers per cell and no employer above 80 % of the cell (dominance);
* counts rounded to the nearest 10 below 1,000 and to the nearest 100 from 1,000; dollar amounts to the
  nearest 100; averages to 0.1;
* percentages computed from the rounded numerator and denominator, never shown as 0 % or 100 %;
* no exact medians, minima or maxima: fuzzy percentiles (the fuzzy median averages the 45th and 55th
  percentiles), rounded to 100, with top-coding;
* complementary suppression, so no suppressed cell can be worked out from totals;
* histogram bins (and binned scatterplots) meet the same minimum.

Public API (stable; other modules and the capstone rely on it):

=========================  ===========================================================================
:class:`Rules`              thresholds; ``Rules.from_dict``, ``Rules.from_toml``, ``rules.replace(...)``
:func:`round_count`         counts: nearest 10 below 1,000, nearest 100 from 1,000 (halves up)
:func:`round_wage`          dollar amounts to the nearest 100
:func:`round_average`       averages to 0.1
:func:`safe_percent`        a percentage from rounded parts; missing when too small or 0/100
:func:`fuzzy_percentiles`   fuzzy min / Q1 / median / Q3 / max of a set of values
:func:`fuzzy_summary`       rounded counts and fuzzy statistics per group, small groups suppressed
:func:`safe_histogram`      histogram counts with small bins merged and open-ended outer bins
:func:`check_table`         every violation in a long table -> :class:`Report`
:func:`suppress`            primary then complementary suppression of a 1-/2-way table -> :class:`Suppression`
:func:`exposed_cells`       suppressed cells that the totals still give away (an exact audit)
:func:`prepare_export`      write a checked export package atomically -> :class:`ExportPackage`
=========================  ===========================================================================

Errors inherit ``ValueError`` (:class:`DisclosureError` for a broken rule) or ``TypeError`` and quote the
offending value.

Example
-------
>>> import pandas as pd
>>> from statelab import disclosure
>>> raw = pd.DataFrame({"state": ["IL", "IN", "KY", "Total"], "leavers": [108, 38, 24, 170]})
>>> disclosure.check_table(raw, count_cols="leavers").rules_broken
['count_rounding']
>>> s = disclosure.suppress(raw.iloc[:3], row="state", count="leavers")   # 1-way, total added
>>> release = s.to_long(value_name="leavers")                             # rounded, <NA> = suppressed
>>> release["leavers"].tolist()
[110, 40, 20, 170]
>>> disclosure.check_table(release, count_cols="leavers", margins="state").ok
True
>>> disclosure.safe_percent(47, 213)            # 50 of 210
23.8

An export package (refused, and nothing written, if any table fails)::

    disclosure.prepare_export(
        "exports/leavers-2021",
        [disclosure.ExportTable(name="leavers_by_state", table=release, unrounded=unrounded_frame,
                                check={"count_cols": ["leavers"], "margins": "state"})],
        code="01-disclosure-review.ipynb",
        memo="Counts of 2021 TANF leavers by state ...",
    )
"""

from ._check import RULE_TITLES, Report, Violation, check_table
from ._export import NOT_FOR_RELEASE, ExportPackage, ExportTable, prepare_export
from ._rules import (
    FUZZY_PERCENTILES,
    DisclosureError,
    Rules,
    fuzzy_percentiles,
    fuzzy_summary,
    round_average,
    round_count,
    round_wage,
    safe_histogram,
    safe_percent,
)
from ._suppress import Suppression, exposed_cells, suppress

__all__ = [
    "DisclosureError",
    "Rules",
    "round_count",
    "round_wage",
    "round_average",
    "safe_percent",
    "FUZZY_PERCENTILES",
    "fuzzy_percentiles",
    "fuzzy_summary",
    "safe_histogram",
    "RULE_TITLES",
    "Violation",
    "Report",
    "check_table",
    "Suppression",
    "suppress",
    "exposed_cells",
    "NOT_FOR_RELEASE",
    "ExportTable",
    "ExportPackage",
    "prepare_export",
]
