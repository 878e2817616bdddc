"""Data Labs unit 8: a disclosure-safe dashboard of a track's outcome, filtered by state, county and year.

The seed case of the first Data Labs cohort ended in a dashboard; this module makes one a team can post. It is a
single self-contained HTML file (Plotly's library is embedded, nothing is fetched) with three filters (state,
county, year) and, for the selection, the outcome by group as a chart and as a table.

Every number in it was checked before the page was written, for **every** filter combination together:

1. :func:`dashboard_cube` counts people for each state (and all states), county (and all counties of the
   state), year (and all years), group (and all groups) and outcome (yes, no, total). A person counts once per
   year; a cell of the "all years" margin also needs enough *distinct* people.
2. :func:`protect_cube` suppresses every cell below the minimum (:class:`statelab.disclosure.Rules`), then
   repeats complementary suppression until no line of the cube (one dimension varying, the others fixed, its
   total included) has exactly one suppressed cell: a lone gap in a line is its total minus the rest.
3. Published counts are rounded (:func:`statelab.disclosure.round_count`) and percentages computed from the
   rounded parts (:func:`statelab.disclosure.safe_percent`).

:func:`exposed_lines` is the audit: the lines that would give a suppressed cell away (none, after step 2).
:func:`dashboard_html` writes the page. The HTML is semantic: headings in order, labelled selects, a table with
a caption and ``<th scope>`` headers, suppressed cells written out as "suppressed", a text summary of the chart.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import disclosure
from ._common import check_track, quiet, table_exists, write_atomic
from .pipelines import ANALYSIS_TABLES

__all__ = ["ALL", "DASHBOARDS", "dashboard_cube", "dashboard_html", "exposed_lines", "protect_cube"]

#: The label of a margin ("all states", "all counties", ...).
ALL = "All"

#: Per person track: (outcome column, rows it is defined for, year expression, group column, outcome label).
DASHBOARDS: dict[str, tuple[str, str, str, str, str]] = {
    "safety_net": ("employed_q2", "employed_q2 IS NOT NULL", "closure_year", "sex",
                   "SNAP leavers employed in the 2nd quarter after leaving"),
    "workforce": ("employed_q2", "TRUE", "CAST(FLOOR(filed_quarter / 4) AS INTEGER)", "sex",
                  "UI claimants employed in the 2nd quarter after filing"),
    "student_outcomes": ("employed_q4", "TRUE", "CAST(FLOOR(award_quarter / 4) AS INTEGER)", "degree_level",
                         "Completers employed in the 4th quarter after the award"),
}
_KEYS = ["state", "county", "year", "group", "status"]


@quiet
def dashboard_cube(con, track: str) -> pd.DataFrame:
    """Unprotected counts for every filter combination: ``state, county, year, group, status, n, people``.

    ``n`` is people counted once per year (what the page adds up); ``people`` distinct people (the minimum
    applies to it). Margins are labelled :data:`ALL`. Needs the track's analysis table (``prepare_track``).
    """
    check_track(track)
    if track not in DASHBOARDS:
        raise ValueError(f"the dashboard shows people; track {track!r} has none (use story.firm_table for firms)")
    table = ANALYSIS_TABLES[track]
    if not table_exists(con, table):
        raise ValueError(f"the workspace has no table {table!r}: run linkage_report.prepare_track(con, {track!r})")
    outcome, where, year, group, _ = DASHBOARDS[track]
    county = "county_fips" if track != "student_outcomes" else "NULL"
    rows = con.sql(f"""
        WITH r AS (
            SELECT mpi_id, s.state_abbr AS state, CAST({county} AS VARCHAR) AS county, {year} AS year,
                   CAST(COALESCE(CAST({group} AS VARCHAR), 'unknown') AS VARCHAR) AS grp, {outcome} AS outcome,
                   ROW_NUMBER() OVER (PARTITION BY mpi_id, {year} ORDER BY {county}, {outcome}) AS k
            FROM {table} AS a JOIN ref_state AS s ON s.state_fips = a.state_fips
            WHERE {where}
        )
        SELECT mpi_id, state, COALESCE(county, '{ALL}') AS county, CAST(year AS VARCHAR) AS year, grp AS "group",
               CASE WHEN outcome = 1 THEN 'yes' ELSE 'no' END AS status
        FROM r WHERE k = 1
    """).df()
    parts = []
    for st in (True, False):
        for co in (True, False) if track != "student_outcomes" else (False,):  # completers: no county
            if co and not st:
                continue  # a county is inside a state
            for yr in (True, False):
                for gr in (True, False):
                    for ss in (True, False):
                        keys = {"state": st, "county": co, "year": yr, "group": gr, "status": ss}
                        by = [k for k, keep in keys.items() if keep]
                        g = rows.groupby(by, dropna=False) if by else rows.assign(_=1).groupby("_")
                        agg = g.agg(n=("mpi_id", "size"), people=("mpi_id", "nunique")).reset_index()
                        for k, keep in keys.items():
                            if not keep:
                                agg[k] = ALL if k != "status" else "total"
                        parts.append(agg[_KEYS + ["n", "people"]])
    cube = pd.concat(parts, ignore_index=True)
    cube["county"] = cube["county"].where(cube["county"] != "", ALL)
    return cube.sort_values(_KEYS).reset_index(drop=True)


def _lines():
    """(dimension that varies, the rows it applies to): county lines only inside one state."""
    return [("county", lambda c: c["state"] != ALL), ("state", lambda c: c["county"] == ALL),
            ("year", None), ("group", None), ("status", None)]


def exposed_lines(cube: pd.DataFrame, suppressed: pd.Series) -> pd.DataFrame:
    """Lines of ``cube`` holding exactly one suppressed cell (each such cell is its total minus the others)."""
    out = []
    for dim, where in _lines():
        part = cube if where is None else cube[where(cube)]
        keys = [k for k in _KEYS if k != dim]
        grouped = suppressed.loc[part.index].groupby([part[k] for k in keys])
        n, size = grouped.transform("sum"), grouped.transform("size")
        bad = part[(n == 1) & (size > 1)]  # a line of one cell (its own total) gives nothing away
        if len(bad):
            out.append(bad.assign(line=dim)[suppressed.loc[bad.index]])
    return pd.concat(out) if out else cube.iloc[:0].assign(line="")


def protect_cube(cube: pd.DataFrame, *, rules: disclosure.Rules | None = None) -> pd.DataFrame:
    """Suppress and round the cube (see the module description); adds ``suppressed``, ``published``, ``percent``.

    ``percent`` (on the ``yes`` rows) is the share of the published total, from rounded parts; missing where a
    part is suppressed or :func:`statelab.disclosure.safe_percent` withholds it.
    """
    rules = rules or disclosure.Rules()
    cube = cube.copy()
    sup = pd.Series(cube["people"] < rules.min_cell_size, index=cube.index)
    changed = True
    while changed:
        changed = False
        for dim, where in _lines():
            part = cube if where is None else cube[where(cube)]
            keys = [part[k] for k in _KEYS if k != dim]
            n_sup = sup.loc[part.index].groupby(keys).transform("sum")
            lone = part[n_sup == 1]
            if lone.empty:
                continue
            # in each line with one gap, suppress its smallest published cell as well
            candidates = lone[~sup.loc[lone.index]]
            pick = candidates.sort_values(["n"] + _KEYS).groupby([candidates[k] for k in _KEYS if k != dim]).head(1)
            if len(pick):
                sup.loc[pick.index] = True
                changed = True
    cube["suppressed"] = sup
    cube["published"] = [None if s else int(disclosure.round_count(v, rules=rules)) for v, s in zip(cube["n"], sup)]
    total = cube[cube["status"] == "total"].set_index(["state", "county", "year", "group"])["published"]
    yes = cube["status"] == "yes"
    idx = pd.MultiIndex.from_frame(cube.loc[yes, ["state", "county", "year", "group"]])
    denom = total.reindex(idx).to_numpy()
    cube["percent"] = np.nan
    pct = [np.nan if pd.isna(p) or pd.isna(d) else disclosure.safe_percent(int(p), int(d), rules=rules)
           for p, d in zip(cube.loc[yes, "published"], denom)]
    cube.loc[yes, "percent"] = [np.nan if v is None or pd.isna(v) else float(v) for v in pct]
    return cube


def _payload(cube: pd.DataFrame) -> dict:
    data: dict[str, list] = {}
    for (state, county, year), part in cube.groupby(["state", "county", "year"], sort=False):
        rows = []
        for grp, g in part.groupby("group", sort=False):
            cells = g.set_index("status")
            pct = cells.loc["yes", "percent"] if "yes" in cells.index else np.nan
            rows.append({"group": grp,
                         **{s: (None if s not in cells.index or pd.isna(cells.loc[s, "published"])
                                else int(cells.loc[s, "published"])) for s in ("yes", "no", "total")},
                         "percent": None if pct is None or (isinstance(pct, float) and math.isnan(pct))
                         else float(pct)})
        rows.sort(key=lambda r: (r["group"] == ALL, r["group"]))
        data[f"{state}|{county}|{year}"] = rows
    counties: dict[str, list] = {}
    for state, part in cube[cube["state"] != ALL].groupby("state"):
        counties[state] = sorted(c for c in part["county"].unique() if c != ALL)
    years = sorted(y for y in cube["year"].unique() if y != ALL)
    states = sorted(s for s in cube["state"].unique() if s != ALL)
    return {"data": data, "states": states, "counties": counties, "years": years}


def dashboard_html(con, track: str, path: str | Path, *, title: str | None = None,
                   rules: disclosure.Rules | None = None) -> Path:
    """Write the dashboard for ``track`` to ``path`` (one HTML file, written to a temporary file then renamed).

    Returns the path. The page embeds only protected numbers: :func:`protect_cube` of :func:`dashboard_cube`.
    """
    from plotly.offline import get_plotlyjs

    cube = protect_cube(dashboard_cube(con, track), rules=rules)
    label = DASHBOARDS[track][4]
    title = title or label
    payload = json.dumps(_payload(cube), separators=(",", ":"))
    page = (_TEMPLATE.replace("{{title}}", html.escape(title)).replace("{{label}}", html.escape(label))
            .replace("{{min}}", str((rules or disclosure.Rules()).min_cell_size))
            .replace("{{plotly}}", get_plotlyjs()).replace("{{data}}", payload.replace("</", "<\\/")))
    path = Path(path)
    write_atomic(path, page)  # readable by the team, like the deliverables
    return path


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; max-width: 60rem; }
label { font-weight: 600; margin-right: .3rem; }
select { margin-right: 1.2rem; font-size: 1rem; }
table { border-collapse: collapse; margin-top: 1rem; }
th, td { border: 1px solid #767676; padding: .3rem .6rem; text-align: right; }
th[scope=row], caption { text-align: left; }
.suppressed { font-style: italic; color: #444; }
</style>
<script>{{plotly}}</script>
</head>
<body>
<main>
<h1>{{title}}</h1>
<p>People counted once per year. Cells with fewer than {{min}} people, and cells that would let someone work
them out from the totals, are <em>suppressed</em>; counts are rounded and percentages come from rounded counts.</p>
<h2>Choose what to show</h2>
<form id="filters">
<label for="state">State</label><select id="state"></select>
<label for="county">County</label><select id="county"></select>
<label for="year">Year</label><select id="year"></select>
</form>
<h2 id="heading">{{label}}</h2>
<p id="summary" aria-live="polite"></p>
<div id="chart" role="img" aria-labelledby="summary"></div>
<table id="numbers">
<caption>{{label}}: people by group for the selection</caption>
<thead><tr><th scope="col">Group</th><th scope="col">Employed</th><th scope="col">Not employed</th>
<th scope="col">Total</th><th scope="col">Percent employed</th></tr></thead>
<tbody></tbody>
</table>
</main>
<script>
const D = {{data}};
const ALL = "All";
const $ = (id) => document.getElementById(id);
function fill(select, values, allLabel) {
  select.innerHTML = "";
  for (const v of [ALL, ...values]) {
    const o = document.createElement("option");
    o.value = v; o.textContent = v === ALL ? allLabel : v; select.appendChild(o);
  }
}
function show(v) { return v === null ? '<span class="suppressed">suppressed</span>' : v.toLocaleString("en-US"); }
function render() {
  const key = [$("state").value, $("county").value, $("year").value].join("|");
  const rows = D.data[key] || [];
  const body = $("numbers").querySelector("tbody");
  body.innerHTML = rows.map(r => `<tr><th scope="row">${r.group === ALL ? "All groups" : r.group}</th>` +
    `<td>${show(r.yes)}</td><td>${show(r.no)}</td><td>${show(r.total)}</td>` +
    `<td>${r.percent === null ? show(null) : r.percent.toFixed(1) + "%"}</td></tr>`).join("");
  const shown = rows.filter(r => r.group !== ALL && r.percent !== null);
  const where = [$("state").value === ALL ? "all states" : $("state").value,
                 $("county").value === ALL ? "" : "county " + $("county").value,
                 $("year").value === ALL ? "all years" : $("year").value].filter(Boolean).join(", ");
  let text = `Percent employed by group, ${where}: `;
  if (shown.length === 0) { text += "every group is suppressed for this selection."; }
  else {
    const hi = shown.reduce((a, b) => b.percent > a.percent ? b : a);
    const lo = shown.reduce((a, b) => b.percent < a.percent ? b : a);
    text += shown.length === 1 ? `${hi.group} ${hi.percent.toFixed(1)}%.` :
      `from ${lo.percent.toFixed(1)}% (${lo.group}) to ${hi.percent.toFixed(1)}% (${hi.group}).`;
    const hidden = rows.filter(r => r.group !== ALL && r.percent === null).length;
    if (hidden) text += ` ${hidden} group(s) suppressed.`;
  }
  $("summary").textContent = text;
  Plotly.react("chart", [{type: "bar", x: shown.map(r => r.group), y: shown.map(r => r.percent),
                          text: shown.map(r => r.percent.toFixed(1) + "%"), textposition: "outside",
                          marker: {color: "#1f5f8b"}}],
               {yaxis: {title: {text: "Percent employed"}, range: [0, 100]},
                xaxis: {title: {text: "Group"}}, margin: {t: 20}, height: 320},
               {displaylogo: false, responsive: true});
}
fill($("state"), D.states, "All states");
fill($("year"), D.years, "All years");
function counties() { fill($("county"), $("state").value === ALL ? [] : (D.counties[$("state").value] || []), "All counties"); }
counties();
$("state").addEventListener("change", () => { counties(); render(); });
$("county").addEventListener("change", render);
$("year").addEventListener("change", render);
render();
</script>
</body>
</html>
"""
