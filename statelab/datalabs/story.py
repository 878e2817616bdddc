"""Data Labs unit 8: tell your story with tables and charts that pass disclosure review.

A team's first product for outsiders (a brief, a small dashboard) may show only aggregates that the disclosure
rules allow (:mod:`statelab.disclosure`, the same checker as the training strand). This module turns a track's
analysis table (:func:`statelab.datalabs.linkage_report.prepare_track`) into release tables and charts:

- :func:`rate_table`: an outcome by group as a two-way table of people (group x outcome yes/no, with totals),
  protected by primary and complementary suppression and rounding, plus percentages computed from the rounded
  parts; checked with :func:`statelab.disclosure.check_table`.
- :func:`firm_table` (procurement): firms, contracts and dollars by certification group, with the minimum
  number of firms and the dominance rule applied to dollars.
- :func:`story_tables`: the track's set of release tables; :func:`review` their disclosure checks in one table.
- :func:`story_chart`: a bar chart of a release table's published percentages, with alt text.
- :func:`export_package`: the tables, code and memo as a checked export package.
- :func:`story_report`: the unit's deliverable, a short report with tables and embedded charts that renders to
  Markdown and HTML.

Charts and numbers in a story use only the *published* (rounded, suppressed) values.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import disclosure
from ._common import AGE_BANDS, check_track, quiet, table_exists
from .deliverables import Deliverable, DeliverableSpec
from .pipelines import ANALYSIS_TABLES
from .tracks import get_track

__all__ = [
    "ReleaseTable",
    "BREAKDOWNS",
    "rate_table",
    "firm_table",
    "story_tables",
    "review",
    "story_chart",
    "chart_markdown",
    "display_table",
    "OUTCOME_LABELS",
    "export_package",
    "STORY_REPORT",
    "story_report",
]


@dataclass
class ReleaseTable:
    """A table prepared for release, with what it was made from and its disclosure check.

    Attributes
    ----------
    name : str
        File-name stem (letters, digits, ``_``).
    title : str
        Human-readable title.
    release : pandas.DataFrame
        The table to publish (rounded; suppressed cells missing), one row per group plus ``Total``.
    unrounded : pandas.DataFrame
        The same rows before rounding and suppression (never published).
    check : dict
        The :func:`statelab.disclosure.check_table` options describing ``release``'s columns.
    long : pandas.DataFrame or None
        For people tables, the counts in long form (group x status), checked with complementary margins.
    long_check : dict
        Check options for ``long``.
    percent_col : str or None
        The column holding the published percentage.
    group_label : str
        What the groups are (for charts).
    outcome : str or None
        The analysis-table column the yes/no counts split on.
    """

    name: str
    title: str
    release: pd.DataFrame
    unrounded: pd.DataFrame
    check: dict
    long: pd.DataFrame | None = None
    long_check: dict = field(default_factory=dict)
    percent_col: str | None = None
    group_label: str = "group"
    outcome: str | None = None

    def reports(self) -> list:
        """The disclosure reports (the wide table, and the long counts table when there is one)."""
        out = [disclosure.check_table(self.release, unrounded=self.unrounded, **self.check)]
        if self.long is not None:
            out.append(disclosure.check_table(self.long, **self.long_check))
        return out

    @property
    def ok(self) -> bool:
        """True when every check passes."""
        return all(r.ok for r in self.reports())


#: Per track: (group column, outcome column, rows the outcome is defined for as SQL or None, title, file name).
BREAKDOWNS: dict[str, list[tuple[str, str, str | None, str, str]]] = {
    "safety_net": [
        ("state_fips", "employed_q2", "employed_q2 IS NOT NULL",
         "SNAP leavers employed in the 2nd quarter after leaving, by state", "snap_leavers_employed_by_state"),
        ("age_band", "employed_q2", "employed_q2 IS NOT NULL",
         "SNAP leavers employed in the 2nd quarter after leaving, by age band", "snap_leavers_employed_by_age"),
        ("state_fips", "on_tanf", None,
         "SNAP closures whose head was also on TANF during the spell, by state", "snap_tanf_co_enrollment_by_state"),
    ],
    "workforce": [
        ("state_fips", "employed_q2", None,
         "UI claimants employed in the 2nd quarter after filing, by state", "claimants_employed_by_state"),
        ("education", "employed_q2", None,
         "UI claimants employed in the 2nd quarter after filing, by education", "claimants_employed_by_education"),
        ("state_fips", "cross_state_only", None,
         "UI claimants employed only across a state line, by state", "claimants_cross_state_by_state"),
    ],
    "student_outcomes": [
        ("state_fips", "employed_q4", None,
         "Completers employed in the 4th quarter after the award, by institution state", "completers_employed_by_state"),
        ("degree_level", "employed_q4", None,
         "Completers employed in the 4th quarter after the award, by credential", "completers_employed_by_credential"),
        ("state_fips", "cross_state_only", None,
         "Completers employed only across a state line, by institution state", "completers_cross_state_by_state"),
    ],
    "procurement": [],
}

_ORDER = {"age_band": list(AGE_BANDS) + ["unknown"],
          "education": ["less_than_hs", "high_school", "some_college", "associate", "bachelor_plus", "unknown"],
          "degree_level": ["certificate", "associate", "bachelor", "unknown"]}

#: Column headers for the published yes/no counts of each outcome.
OUTCOME_LABELS = {"employed_q2": ("employed", "not employed"), "employed_q4": ("employed", "not employed"),
                  "on_tanf": ("also on TANF", "not on TANF"),
                  "cross_state_only": ("only across a state line", "not")}

_GROUP_LABELS = {"state_fips": "State", "age_band": "Age band", "education": "Education",
                 "degree_level": "Credential", "minority_certified": "Certified minority-owned"}


def _group_expr(by: str, alias: str = "a") -> str:
    if by == "state_fips":
        return f"COALESCE((SELECT s.state_abbr FROM ref_state AS s WHERE s.state_fips = {alias}.state_fips), 'unknown')"
    return f"COALESCE(CAST({alias}.{by} AS VARCHAR), 'unknown')"


@quiet
def rate_table(con, track: str, *, by: str, outcome: str, where: str | None = None, name: str | None = None,
               title: str | None = None, rules: disclosure.Rules | None = None) -> ReleaseTable:
    """An outcome by group, protected for release.

    The people in each group are split by the outcome (``yes`` / ``no``) into a two-way table with totals;
    :func:`statelab.disclosure.suppress` hides cells with too few people and enough others that none can be
    worked out from the totals, and rounds the rest. The percentage is computed from the rounded ``yes`` and
    ``Total`` counts (:func:`statelab.disclosure.safe_percent`); it is missing wherever a part is.

    Parameters
    ----------
    track : str
        The case track; its analysis table must exist.
    by : str
        A column of the analysis table (``state_fips`` is shown as the state abbreviation).
    outcome : str
        A 0/1 column of the analysis table.
    where : str, optional
        SQL condition for the rows the outcome is defined for.

    Returns
    -------
    ReleaseTable
        ``release`` has columns ``<by>, yes, no, total, percent``.
    """
    check_track(track)
    table = ANALYSIS_TABLES[track]
    if not table_exists(con, table):
        raise ValueError(f"the workspace has no table {table!r}: run linkage_report.prepare_track(con, {track!r})")
    cols = {r[0] for r in con.sql(f"SELECT column_name FROM information_schema.columns "
                                  f"WHERE table_name = '{table}'").fetchall()}
    for what, col in (("by", by), ("outcome", outcome)):
        if col not in cols:
            raise ValueError(f"{what}={col!r} is not a column of {table}; its columns are {sorted(cols)}")
    rules = rules or disclosure.Rules()
    raw = con.sql(f"""
        SELECT {_group_expr(by)} AS grp,
               SUM(CASE WHEN a.{outcome} = 1 THEN 1 ELSE 0 END) AS yes,
               SUM(CASE WHEN a.{outcome} = 1 THEN 0 ELSE 1 END) AS no
        FROM {table} AS a
        WHERE {where or 'TRUE'}
        GROUP BY {_group_expr(by)}
        ORDER BY 1
    """).df()
    order = _ORDER.get(by)
    if order:
        rank = {g: i for i, g in enumerate(order)}
        raw = raw.sort_values("grp", key=lambda col: col.map(lambda g: rank.get(g, len(rank)))).reset_index(drop=True)
    wide = raw.set_index("grp")[["yes", "no"]].astype("int64")
    wide.index.name, wide.columns.name = by, "status"
    sup = disclosure.suppress(wide, rules=rules)
    pub = sup.published()
    counts = sup.counts
    percent = disclosure.safe_percent(counts["yes"].where(~sup.mask["yes"]), counts["Total"].where(~sup.mask["Total"]),
                                      rules=rules)
    release = pd.DataFrame({by: pub.index.astype(str)})
    for col, src in (("yes", "yes"), ("no", "no"), ("total", "Total")):
        release[col] = pd.array(pub[src].to_numpy(), dtype="Float64").round(0).astype("Int64")
    release["percent"] = pd.array(percent.reindex(pub.index).to_numpy(), dtype="Float64")
    unrounded = pd.DataFrame({by: counts.index.astype(str), "yes": counts["yes"].to_numpy(),
                              "no": counts["no"].to_numpy(), "total": counts["Total"].to_numpy()})
    long = sup.to_long(value_name="people")
    return ReleaseTable(
        name=name or f"{outcome}_by_{by}", title=title or f"{outcome} by {by}", release=release,
        unrounded=unrounded,
        check={"count_cols": ["yes", "no", "total"], "percent_cols": {"percent": ("yes", "total")},
               "label_cols": [by], "rules": rules},
        long=long, long_check={"count_cols": "people", "margins": (by, "status"), "rules": rules},
        percent_col="percent", group_label=_GROUP_LABELS.get(by, by), outcome=outcome)


@quiet
def firm_table(con, *, rules: disclosure.Rules | None = None) -> ReleaseTable:
    """Firms, contracts and contract dollars by certification group, protected for release (procurement).

    Groups: certified minority-owned firms, other certified firms, and firms not certified (only firms that
    won at least one contract). A group is published only with at least ``rules.min_employers`` firms and no
    single firm holding more than ``rules.max_employer_share`` of its dollars; counts are rounded, dollars
    rounded to ``rules.wage_unit``, and the share of all dollars is computed from the rounded amounts.

    Returns
    -------
    ReleaseTable
        ``release`` has columns ``group, firms, contracts, dollars, percent_of_dollars``.
    """
    if not table_exists(con, "pr_analysis"):
        raise ValueError("the workspace has no table 'pr_analysis': run linkage_report.prepare_track(con, 'procurement')")
    rules = rules or disclosure.Rules()
    raw = con.sql("""
        WITH f AS (
            SELECT CASE WHEN minority_certified THEN 'Certified minority-owned'
                        WHEN certified THEN 'Certified, not minority-owned'
                        ELSE 'Not certified' END AS grp, contracts, contract_dollars
            FROM pr_analysis WHERE contracts > 0
        )
        SELECT grp, COUNT(*) AS firms, SUM(contracts) AS contracts, SUM(contract_dollars) AS dollars,
               MAX(contract_dollars) * 1.0 / NULLIF(SUM(contract_dollars), 0) AS top_firm_share
        FROM f GROUP BY grp ORDER BY grp
    """).df()
    total = pd.DataFrame([{"grp": "Total", "firms": raw["firms"].sum(), "contracts": raw["contracts"].sum(),
                           "dollars": raw["dollars"].sum(),
                           "top_firm_share": (raw["top_firm_share"] * raw["dollars"]).max() / raw["dollars"].sum()
                           if len(raw) else math.nan}])
    unrounded = pd.concat([raw, total], ignore_index=True).rename(columns={"grp": "group"})
    for c in ("firms", "contracts", "dollars"):
        unrounded[c] = unrounded[c].astype("int64")
    hide = (unrounded["firms"] < rules.min_employers) | (unrounded["top_firm_share"] > rules.max_employer_share)
    # a single hidden group could be recovered from the total: hide the next smallest group too
    inner_hidden = hide.iloc[:-1]
    if inner_hidden.sum() == 1 and len(inner_hidden) > 1:
        candidates = unrounded.iloc[:-1][~inner_hidden]
        hide.loc[candidates["firms"].idxmin()] = True
    release = pd.DataFrame({"group": unrounded["group"]})
    release["firms"] = disclosure.round_count(unrounded["firms"].mask(hide)).astype("Int64")
    release["contracts"] = disclosure.round_count(unrounded["contracts"].mask(hide)).astype("Int64")
    release["dollars"] = disclosure.round_wage(unrounded["dollars"].mask(hide)).astype("Float64")
    shown_total = float(release["dollars"].iloc[-1])
    release["percent_of_dollars"] = (100 * release["dollars"] / shown_total).round(1).astype("Float64")
    release.loc[release.index[-1], "percent_of_dollars"] = pd.NA
    release.loc[(release["percent_of_dollars"] <= 0) | (release["percent_of_dollars"] >= 100),
                "percent_of_dollars"] = pd.NA
    return ReleaseTable(
        name="contracts_by_certification", title="Firms, contracts and dollars by certification group",
        release=release, unrounded=unrounded,
        check={"count_cols": ["firms", "contracts"], "wage_cols": ["dollars"], "percent_cols": ["percent_of_dollars"],
               "employer_count_col": "firms", "top_employer_share_col": "top_firm_share", "label_cols": ["group"],
               "rules": rules},
        percent_col="percent_of_dollars", group_label="Certification group")


@quiet
def story_tables(con, track: str, *, rules: disclosure.Rules | None = None) -> list[ReleaseTable]:
    """The track's release tables (see :data:`BREAKDOWNS`; procurement: :func:`firm_table`)."""
    check_track(track)
    if track == "procurement":
        return [firm_table(con, rules=rules)]
    return [rate_table(con, track, by=by, outcome=outcome, where=where, title=title, name=name, rules=rules)
            for by, outcome, where, title, name in BREAKDOWNS[track]]


def review(tables: list[ReleaseTable]) -> pd.DataFrame:
    """One row per release table: rows, suppressed cells, checks run and whether it passes."""
    rows = []
    for t in tables:
        reports = t.reports()
        value_cols = [c for c in t.release.columns if c not in t.check.get("label_cols", [])]
        rows.append({
            "table": t.name,
            "rows": len(t.release),
            "suppressed_cells": int(t.release[value_cols].isna().sum().sum()),
            "checks": ", ".join(sorted({c for r in reports for c in _checked(r)})),
            "violations": sum(len(r.violations) for r in reports),
            "passes": all(r.ok for r in reports),
        })
    return pd.DataFrame(rows, columns=["table", "rows", "suppressed_cells", "checks", "violations", "passes"])


def _checked(report) -> list[str]:
    text = str(report)
    if "checked:" in text:
        return [s.strip() for s in text.split("checked:", 1)[1].rstrip(").").split(",")]
    return sorted({v.rule for v in report.violations})


def story_chart(table: ReleaseTable):
    """A bar chart of a release table's published percentages, and its alt text.

    Suppressed groups are left out of the bars and named in the alt text. Returns ``(fig, alt)``; show it
    with ``statelab.plotting.show(fig, alt=alt)``.
    """
    import matplotlib.pyplot as plt

    df = table.release.iloc[:-1]
    label_col = df.columns[0]
    shown = df[df[table.percent_col].notna()]
    hidden = df.loc[df[table.percent_col].isna(), label_col].tolist()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.bar(shown[label_col].astype(str), shown[table.percent_col].astype(float))
    ax.set_xlabel(table.group_label)
    ax.set_ylabel("Percent")
    ax.set_title(table.title, fontsize="medium")
    if len(shown) > 4:
        ax.tick_params(axis="x", labelrotation=30)
    if len(shown) == 1:
        one = shown.iloc[0]
        alt = (f"Bar chart: {table.title}, in percent, with one group shown: {one[label_col]} at "
               f"{float(one[table.percent_col]):.1f}%.")
    elif len(shown):
        hi = shown.loc[shown[table.percent_col].astype(float).idxmax()]
        lo = shown.loc[shown[table.percent_col].astype(float).idxmin()]
        alt = (f"Bar chart: {table.title}, in percent, for {len(shown)} groups. The highest is {hi[label_col]} at "
               f"{float(hi[table.percent_col]):.1f}%, the lowest {lo[label_col]} at {float(lo[table.percent_col]):.1f}%.")
    else:
        alt = f"Bar chart: {table.title}. Every group is suppressed, so no bars are shown."
    if hidden:
        alt += f" Suppressed for disclosure: {', '.join(map(str, hidden))}."
    return fig, alt


def chart_markdown(fig, alt: str, *, dpi: int = 100) -> str:
    """A Markdown image (PNG as a data URI) with ``alt`` as its text alternative; closes the figure."""
    import matplotlib.pyplot as plt

    text = " ".join(alt.replace("[", "(").replace("]", ")").split())
    if len(text) < 15:
        raise ValueError(f"alt text is required: describe the chart in at least 15 characters (got {alt!r})")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return f"![{text}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode('ascii')})"


def export_package(tables: list[ReleaseTable], destination: str | Path, *, code: str, memo: str,
                   overwrite: bool = False) -> disclosure.ExportPackage:
    """Write the release tables as a checked export package (:func:`statelab.disclosure.prepare_export`).

    Nothing is written if any table breaks a rule.
    """
    items = [disclosure.ExportTable(name=t.name, table=t.release, unrounded=t.unrounded,
                                    check={k: v for k, v in t.check.items() if k != "rules"}, title=t.title)
             for t in tables]
    return disclosure.prepare_export(destination, items, code=code, memo=memo, overwrite=overwrite)


# ----------------------------------------------------------------------------------- deliverable
STORY_REPORT = DeliverableSpec(
    kind="story_report", title="Our story in numbers", unit=8,
    description="A short public report of the case's results: tables and charts that passed disclosure review.",
    required=("team", "headline", "audience", "key_findings", "tables", "method", "disclosure_review",
              "limitations"),
    optional=("charts", "next_steps", "contact", "prepared_by"),
)

_AUDIENCE = {
    "safety_net": "program directors and the legislature's human services committee",
    "workforce": "the UI director, local workforce boards and neighboring states' agencies",
    "student_outcomes": "the higher education commission, college leaders and students choosing a program",
    "procurement": "the chief procurement officer, agencies that award contracts and business associations",
}

_METHOD = {
    "safety_net": ["SNAP and TANF case heads were linked across programs and states with a master person index.",
                   "A leaver is a head whose SNAP case closed with no new case within four months.",
                   "Employed means any UI-covered wages in the four states' files in the 2nd quarter after leaving."],
    "workforce": ["Claimants were linked to every state's wage records through a master person index.",
                  "Employed means any UI-covered wages in the 2nd quarter after the quarter of filing.",
                  "'Only across a state line' means wages that quarter only in another state's file."],
    "student_outcomes": ["Completers were linked through a master person index, which also supplies SSNs missing "
                         "from college records.",
                         "Employed means any UI-covered wages in the 4th quarter after the quarter of the award.",
                         "'Only across a state line' means wages that quarter only outside the institution's state."],
    "procurement": ["The comptroller's vendor file, the transportation registry and the certification registry were "
                    "linked into one business index (EIN repaired, names standardized).",
                    "Each contract award was attributed to a firm through that index.",
                    "Groups with fewer than three firms, or where one firm holds more than 80% of the dollars, are "
                    "suppressed."],
}

_LIMITS = {
    "safety_net": ["Jobs outside the four states and self-employment are not in the wage records.",
                   "Heads who could not be linked count as not employed, so rates are slightly understated."],
    "workforce": ["Jobs outside the four states, federal jobs and self-employment are not in the wage records."],
    "student_outcomes": ["Completers who could not be linked to the wage records count as not employed.",
                         "Jobs outside the four states are not in the wage records."],
    "procurement": ["Minority-owned firms that are not certified are counted with the others.",
                    "Prime contracts only: subcontracts are not recorded."],
}


def display_table(table: ReleaseTable) -> pd.DataFrame:
    """A release table ready to print: readable headers, numbers as text, suppressed cells as ``None``.

    Numbers are formatted once here (counts and dollars with thousands separators, percentages to one
    decimal), so the table renders the same after a JSON round trip.
    """
    df = table.release.copy()
    first = df.columns[0]
    names = {first: table.group_label}
    if table.percent_col == "percent":
        yes, no = OUTCOME_LABELS.get(table.outcome, ("yes", "no"))
        names.update(yes=yes, no=no, total="total", percent="percent")
    else:
        names.update(percent_of_dollars="percent of dollars")
    out = pd.DataFrame({names.get(first, first): df[first].astype(str)})
    for col in df.columns[1:]:
        pct = col in ("percent", "percent_of_dollars")
        out[names.get(col, col)] = [None if pd.isna(v) else (f"{float(v):.1f}" if pct else f"{float(v):,.0f}")
                                    for v in df[col]]
    return out


def _findings(tables: list[ReleaseTable], track: str) -> list[str]:
    out = []
    for t in tables:
        df = t.release
        total = df.iloc[-1]
        body = df.iloc[:-1]
        label = body.columns[0]
        pc = t.percent_col
        if track == "procurement":
            mino = body[body["group"] == "Certified minority-owned"]
            if len(mino) and not pd.isna(mino[pc].iloc[0]):
                out.append(f"Certified minority-owned firms won {float(mino[pc].iloc[0]):.1f}% of contract dollars "
                           f"({int(mino['firms'].iloc[0]):,} firms, about).")
            else:
                out.append("Contract dollars of certified minority-owned firms cannot be published at this size "
                           "(too few firms).")
            continue
        shown = body[body[pc].notna()]
        line = f"{t.title}: {float(total[pc]):.1f}% overall" if not pd.isna(total[pc]) else f"{t.title}: overall suppressed"
        if len(shown) >= 2:
            hi = shown.loc[shown[pc].astype(float).idxmax()]
            lo = shown.loc[shown[pc].astype(float).idxmin()]
            line += f", from {float(lo[pc]):.1f}% ({lo[label]}) to {float(hi[pc]):.1f}% ({hi[label]})"
        out.append(line + ".")
    return out


@quiet
def story_report(con, track: str, *, team: str = "Example state team", charts: bool = True,
                 rules: disclosure.Rules | None = None, **fields) -> Deliverable:
    """The unit 8 deliverable, filled in from the track's release tables.

    Every table in it has passed :func:`review` (a table that fails raises ``ValueError`` naming it). Charts
    are embedded as PNG images with alt text, so the report renders to a self-contained HTML page with
    :meth:`~statelab.datalabs.deliverables.Deliverable.render_html`. Keywords replace fields.
    """
    check_track(track)
    tables = story_tables(con, track, rules=rules)
    checks = review(tables)
    failing = checks.loc[~checks["passes"], "table"].tolist()
    if failing:
        raise ValueError(f"tables {failing} fail disclosure review; fix them before publishing")
    out = {
        "team": team,
        "headline": get_track(track).short_title + ": what the linked records show",
        "audience": _AUDIENCE[track],
        "key_findings": _findings(tables, track),
        "tables": [{"title": t.title, "table": display_table(t)} for t in tables],
        "method": _METHOD[track],
        "disclosure_review": checks,
        "limitations": _LIMITS[track],
        "next_steps": ["Share the tables with the program staff named in the problem brief before publication.",
                       "Refresh the numbers when the next extract arrives, through the same pipeline."],
    }
    if charts:
        out["charts"] = [chart_markdown(*story_chart(t)) for t in tables]
    out.update(fields)
    return Deliverable(STORY_REPORT, out, track=track)
