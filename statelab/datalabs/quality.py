"""A reusable data-quality profiler for the agency tables (Data Labs unit 5).

:func:`profile_table` measures one table on the caller's DuckDB connection along four dimensions and returns
a :class:`QualityReport`; :func:`profile_sources` does it for several tables at once.

* **completeness** — the share of empty (NULL) values in every column;
* **validity** — values breaking the schema's rules (allowed values, minimum, maximum, pattern), documented
  "unknown" codes such as an EIN of ``000000000``, and SSN validity by the course's one rule
  (:mod:`statelab.identifiers`): missing, malformed and placeholder values;
* **timeliness** — the last period present against the period the data should reach, and periods missing
  between the first and the last;
* **duplicates** — rows sharing the table's primary key, rows sharing the identifying fields that should name
  one real-world thing (``data/sources.toml``), and an estimate of how many distinct people the file is about.

The rules come from the generator's schema metadata (via :mod:`statelab.datalabs.catalog`), so a new column
rule is profiled without changing this module. SQL is portable (it avoids DuckDB-only syntax); pattern rules are
checked in Python on the distinct values.

A note on SSNs: real validation also rejects numbers the SSA never issues (see
:data:`statelab.identifiers.NEVER_ISSUED_AREAS`). The course's synthetic SSNs are drawn *only* from those
ranges, so that no real person's number can appear, so that rule is off by default
(``reject_never_issued=False``); switch it on for real data.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

import duckdb
import pandas as pd

from . import catalog as _catalog
from . import deliverables as _dl
from ..identifiers import SSN_STATUSES, ssn_status_sql

__all__ = [
    "DIMENSIONS",
    "QualityReport",
    "profile_sources",
    "profile_table",
    "window_end",
]


#: The four dimensions, plus ``identity`` (the people-count estimate), in report order.
DIMENSIONS = ("completeness", "validity", "timeliness", "duplicates", "identity")

_COLUMNS = ["table", "dimension", "check", "column", "rows", "count", "share", "detail"]


def _quote(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def window_end(profile: str = "default") -> _dt.date:
    """The last day of a profile's data window (the date the records should be complete through).

    Read from the profile's public parameters (``synthetic_data.load_profile``): ``window.start_year`` and
    ``window.quarters``.
    """
    import synthetic_data as sd

    w = sd.load_profile(profile)["window"]
    last = w["start_year"] * 4 + w["quarters"] - 1  # quarter index of the last quarter
    year, quarter = divmod(last, 4)
    first_of_next = _dt.date(year + (quarter == 3), (quarter + 1) % 4 * 3 + 1, 1)
    return first_of_next - _dt.timedelta(days=1)


def _period_index(when, frequency: str) -> int:
    if isinstance(when, str):
        try:
            when = _dt.date.fromisoformat(when)
        except ValueError:
            raise ValueError(f"expected_through must be a date such as '2025-12-31', got {when!r}") from None
    if isinstance(when, pd.Timestamp):
        when = when.date()
    if not isinstance(when, _dt.date):
        raise TypeError(f"expected_through must be a date or an ISO date string, got {when!r}")
    return {"quarter": when.year * 4 + (when.month - 1) // 3, "month": when.year * 12 + when.month - 1,
            "year": when.year}[frequency]


# ------------------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class QualityReport:
    """The profiler's results: one row per table x check, in :attr:`results`.

    Every table has a ``row_count`` row (dimension ``completeness``) whatever dimensions were profiled.
    ``results`` columns: ``table, dimension, check, column, rows`` (the denominator), ``count`` (rows failing
    the check, or the counted quantity), ``share`` (``count / rows`` where that is meaningful) and ``detail``.
    """

    results: pd.DataFrame

    def __post_init__(self):
        missing = [c for c in _COLUMNS if c not in self.results.columns]
        if missing:
            raise ValueError(f"a quality report needs columns {missing}")

    @property
    def tables(self) -> list[str]:
        return list(dict.fromkeys(self.results["table"]))

    def __add__(self, other: QualityReport) -> QualityReport:
        return QualityReport(pd.concat([self.results, other.results], ignore_index=True))

    def value(self, table: str, check: str, column: str = "", *, metric: str = "share") -> float:
        """One number from the report, e.g. ``value("snap", "ssn_placeholder", "head_ssn")``.

        Parameters
        ----------
        metric : {"share", "count", "rows"}
        """
        if metric not in ("share", "count", "rows"):
            raise ValueError(f"metric must be 'share', 'count' or 'rows', got {metric!r}")
        r = self.results
        hit = r[(r["table"] == table) & (r["check"] == check) & (r["column"] == column)]
        if hit.empty:
            checks = sorted(set(r.loc[r["table"] == table, "check"]))
            raise ValueError(f"no check {check!r} on column {column!r} of table {table!r}; "
                             f"checks for that table: {', '.join(checks) or 'none (table not profiled)'}")
        return hit[metric].iloc[0]

    def summary(self) -> pd.DataFrame:
        """One row per table with the headline number of each dimension."""
        rows = []
        for table in self.tables:
            r = self.results[self.results["table"] == table]
            comp = r[(r["dimension"] == "completeness") & (r["check"] == "null_share")]
            required = comp[~comp["detail"].str.contains("may be empty", regex=False)]
            worst = required.sort_values("share", ascending=False, kind="stable").head(1)
            ssn = r[r["check"] == "ssn_unusable"]
            rules = r[(r["dimension"] == "validity") & r["check"].isin(["allowed", "min", "max", "pattern",
                                                                         "unknown_value"])]
            lag = r[r["check"] == "lag_periods"]
            gaps = r[r["check"] == "missing_periods"]
            last = r[r["check"] == "last_period"]
            key = r[r["check"] == "key"]
            groups = r[r["check"].str.startswith("group:")]
            people = r[r["check"] == "estimated_people"]
            rows.append({
                "table": table,
                "rows": int(r.loc[r["check"] == "row_count", "count"].iloc[0]),
                "worst_required_column": f"{worst['column'].iloc[0]} ({100 * worst['share'].iloc[0]:.1f}% empty)"
                if len(worst) and worst["share"].iloc[0] > 0 else "none empty",
                "ssn_unusable_share": float(ssn["share"].iloc[0]) if len(ssn) else float("nan"),
                "rule_violations": int(rules["count"].sum()),
                "last_period": last["detail"].iloc[0] if len(last) else "",
                "lag_periods": lag["count"].iloc[0] if len(lag) else float("nan"),
                "missing_periods": gaps["count"].iloc[0] if len(gaps) else float("nan"),
                "key_duplicates": int(key["count"].sum()) if len(key) else 0,
                "identity_duplicates": int(groups["count"].sum()) if len(groups) else 0,
                "estimated_people": people["count"].iloc[0] if len(people) else float("nan"),
            })
        return pd.DataFrame(rows)

    def summary_table(self) -> pd.DataFrame:
        """:meth:`summary` for people to read: one row per measure, one column per table, values as text.

        Ten measures side by side made a table wider than a page (and the book's column); a column per
        source fits, and each measure has a label in words. The unit 5 data quality report shows this table.
        """
        s = self.summary()
        rows = []
        for key, label in _SUMMARY_LABELS.items():
            row = {"measure": label}
            for rec in s.to_dict("records"):
                row[rec["table"]] = _summary_text(key, rec[key])
            rows.append(row)
        return pd.DataFrame(rows, columns=["measure", *s["table"]])

    def headlines(self) -> list[str]:
        """One plain-language sentence per table: size, timeliness, usable identifiers, duplicates, people."""
        out = []
        for row in self.summary().itertuples():
            parts = [f"{row.rows:,} rows"]
            if row.last_period:
                lag = "" if pd.isna(row.lag_periods) else (
                    " (on time)" if row.lag_periods == 0 else
                    f" ({int(row.lag_periods)} period(s) behind the expected end)" if row.lag_periods > 0 else
                    f" ({-int(row.lag_periods)} period(s) past the expected end)")
                parts[0] += f" up to {row.last_period}{lag}"
            if not pd.isna(row.missing_periods) and row.missing_periods:
                parts.append(f"{int(row.missing_periods)} period(s) missing inside the span")
            if not pd.isna(row.ssn_unusable_share):
                parts.append(f"{100 * row.ssn_unusable_share:.1f}% of rows have no usable SSN")
            if row.rule_violations:
                parts.append(f"{row.rule_violations:,} value(s) break a validity rule or are coded unknown")
            if row.key_duplicates:
                parts.append(f"{row.key_duplicates:,} duplicated key(s)")
            if row.identity_duplicates:
                parts.append(f"{row.identity_duplicates:,} row(s) repeat another row's identifying fields")
            if not pd.isna(row.estimated_people):
                parts.append(f"an estimated {int(row.estimated_people):,} distinct people")
            out.append(f"{row.table}: " + "; ".join(parts) + ".")
        return out

    def to_markdown(self, *, details: bool = True) -> str:
        """The report as Markdown: a summary table, then (optionally) every non-zero finding."""
        s = self.summary()
        shown = s.assign(ssn_unusable_share=[("" if pd.isna(v) else f"{100 * v:.1f}%") for v in s["ssn_unusable_share"]],
                         lag_periods=["" if pd.isna(v) else int(v) for v in s["lag_periods"]],
                         missing_periods=["" if pd.isna(v) else int(v) for v in s["missing_periods"]],
                         estimated_people=["" if pd.isna(v) else int(v) for v in s["estimated_people"]])
        parts = ["## Data quality summary", "", _dl.markdown_table(shown)]
        if details:
            d = self.findings()
            parts += ["", "## Findings by check", "",
                      _dl.markdown_table(d) if len(d) else "No check found a problem."]
        return "\n".join(parts) + "\n"

    def findings(self) -> pd.DataFrame:
        """The checks with something to report (non-zero counts, lags, gaps), shares as percentages."""
        r = self.results
        keep = ((r["count"].fillna(0) > 0) & (r["dimension"] != "identity")
                & ~r["check"].isin(["last_period", "row_count"]))
        out = r[keep].copy()
        out["share"] = [("" if pd.isna(v) else f"{100 * v:.2f}%") for v in out["share"]]
        return out[["table", "dimension", "check", "column", "count", "share", "detail"]].reset_index(drop=True)

    def deliverable(self, *, team: str, findings, actions, track: str | None = None, method=None) -> _dl.Deliverable:
        """The unit 5 data quality report, with the team's findings and actions added.

        Parameters
        ----------
        team : str
        findings : str or list of str
            What the team concludes from the numbers.
        actions : str, list of str or list of dict
            What will be done about them, and by whom.
        track : str, optional
        method : str, optional
            A note on how the profile was made (default: a standard description).
        """
        sources = _catalog.table_catalog(self.tables)[["table", "agency", "grain"]]
        summary = self.summary_table()
        method = method or ("Profiled with statelab.datalabs.quality: completeness (empty values per column), validity "
                            "(the schema's allowed values, ranges and patterns; unknown codes; SSN format and "
                            "placeholders), timeliness (last period against the expected one; missing periods) and "
                            "duplicates (primary key; identifying fields; distinct people estimated from usable SSNs, "
                            "then names and dates of birth).")
        return _dl.Deliverable(_dl.QUALITY_REPORT, {"team": team, "sources": sources, "summary": summary,
                                                    "findings": findings, "actions": actions, "method": method,
                                                    "details": self.findings()}, track=track)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


#: The measures of :meth:`QualityReport.summary`, in words, for :meth:`QualityReport.summary_table`.
_SUMMARY_LABELS = {
    "rows": "Rows",
    "worst_required_column": "Required column most often empty",
    "ssn_unusable_share": "Rows without a usable SSN",
    "rule_violations": "Values breaking a validity rule or coded unknown",
    "last_period": "Last period",
    "lag_periods": "Periods behind the expected end (negative: past it)",
    "missing_periods": "Periods missing inside the span",
    "key_duplicates": "Duplicated keys",
    "identity_duplicates": "Rows repeating another row's identifying fields",
    "estimated_people": "Estimated distinct people",
}


def _summary_text(key: str, value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"  # not measured for this table (no SSN, no period column)
    if key == "ssn_unusable_share":
        return f"{100 * value:.1f}%"
    if isinstance(value, str):
        return value or "–"
    return f"{int(value):,}"


# ----------------------------------------------------------------------------------------- profiler
def _row(table, dimension, check, column, rows, count, detail="", share=None):
    if share is None:
        share = count / rows if rows else float("nan")
    return {"table": table, "dimension": dimension, "check": check, "column": column, "rows": int(rows),
            "count": count, "share": share, "detail": detail}


def _completeness(con, table, cols, rules, n):
    got = con.sql(f"SELECT {', '.join(f'COUNT({c})' for c in cols)} FROM {table}").fetchall()[0]
    return [_row(table, "completeness", "null_share", c, n, n - int(k),
                 "may be empty (nullable)" if rules[c]["nullable"] else "required")
            for c, k in zip(cols, got)]


def _validity(con, table, cols, rules, cfg, n, reject_never_issued):
    """Rule checks in one scan of the table (patterns in Python on distinct values)."""
    out, parts, specs = [], [], []
    for c in cols:
        rule = rules[c]
        conditions = []
        if "allowed" in rule:
            allowed = ", ".join(_quote(v) if isinstance(v, str) else str(v) for v in rule["allowed"])
            conditions.append(("allowed", f"{c} NOT IN ({allowed})",
                               "one of " + ", ".join(str(v) for v in rule["allowed"])))
        if "min" in rule:
            conditions.append(("min", f"{c} < {float(rule['min'])}", f">= {rule['min']}"))
        if "max" in rule:
            conditions.append(("max", f"{c} > {float(rule['max'])}", f"<= {rule['max']}"))
        if c in cfg["unknown_values"]:
            codes = ", ".join(_quote(v) for v in cfg["unknown_values"][c])
            conditions.append(("unknown_value", f"{c} IN ({codes})",
                               "filled with a code meaning unknown: " + ", ".join(cfg["unknown_values"][c])))
        if conditions:
            parts.append(f"COUNT({c})")
            specs.append((c, None, None, None))
        for check, cond, detail in conditions:
            parts.append(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)")
            specs.append((c, check, detail, None))
    ssn = cfg["identity"].get("ssn")
    if ssn:
        status = ssn_status_sql(ssn, reject_never_issued=reject_never_issued)
        for st in SSN_STATUSES:
            parts.append(f"SUM(CASE WHEN ({status}) = '{st}' THEN 1 ELSE 0 END)")
            specs.append((ssn, f"ssn_{st}", None, st))
    got = con.sql(f"SELECT {', '.join(parts)} FROM {table}").fetchall()[0] if parts else ()
    filled = {}
    ssn_counts = {}
    for (c, check, detail, st), value in zip(specs, got):
        value = int(value or 0)
        if check is None:
            filled[c] = value
        elif st is not None:
            ssn_counts[st] = value
        else:
            out.append(_row(table, "validity", check, c, filled[c], value, detail))
    for c in cols:
        if "pattern" in rules[c]:
            values = con.sql(f"SELECT CAST({c} AS VARCHAR) AS v, COUNT(*) AS k FROM {table} WHERE {c} IS NOT NULL "
                             f"GROUP BY {c}").df()
            rx = re.compile(rules[c]["pattern"])
            bad = int(values.loc[[rx.search(str(v)) is None for v in values["v"]], "k"].sum())
            out.append(_row(table, "validity", "pattern", c, int(values["k"].sum()), bad,
                            f"matches {rules[c]['pattern']}"))
    if ssn:
        details = {"missing": "empty", "malformed": "not nine digits, or a group of 00 or a serial of 0000",
                   "placeholder": "a placeholder such as 999999999 or one digit repeated",
                   "never_issued": "area 000, 666 or 900-999 (never issued)"}
        for st in SSN_STATUSES[:-1]:
            if st == "never_issued" and not reject_never_issued:
                continue
            out.append(_row(table, "validity", f"ssn_{st}", ssn, n, ssn_counts.get(st, 0), details[st]))
        unusable = n - ssn_counts.get("valid", 0)
        out.append(_row(table, "validity", "ssn_unusable", ssn, n, unusable,
                        "missing, malformed or placeholder: cannot be used to link"))
    return out


def _timeliness(con, table, cfg, expected_through):
    period = cfg["period"]
    if not period:
        return []
    freq = period["frequency"]
    pc = _catalog.period_counts(con, table)
    if pc.empty:
        return [_row(table, "timeliness", "last_period", period.get("column", "year, quarter"), 0, float("nan"),
                     "no dated rows")]
    col = period.get("column") or f"{period['year']}, {period['quarter']}"
    first, last = int(pc["period_index"].iloc[0]), int(pc["period_index"].iloc[-1])
    present = set(pc["period_index"])
    missing = [i for i in range(first, last + 1) if i not in present]
    span = last - first + 1
    out = [_row(table, "timeliness", "last_period", col, span, float("nan"),
                _catalog.period_label(last, freq), share=float("nan")),
           _row(table, "timeliness", "missing_periods", col, span, len(missing),
                ("missing: " + ", ".join(_catalog.period_label(i, freq) for i in missing[:6])
                 + (" ..." if len(missing) > 6 else "")) if missing else f"every {freq} from "
                f"{_catalog.period_label(first, freq)} to {_catalog.period_label(last, freq)} is present")]
    if expected_through is not None:
        expected = _period_index(expected_through, freq)
        lag = expected - last
        out.append(_row(table, "timeliness", "lag_periods", col, 1, lag,
                        f"last {freq} present {_catalog.period_label(last, freq)}, expected "
                        f"{_catalog.period_label(expected, freq)}", share=float("nan")))
    return out


def _duplicates(con, table, key, groups, unknown):
    out = []
    todo = ([("key", key)] if key else []) + [(f"group:{name}", cols) for name, cols in groups.items()]
    for check, cols in todo:
        gb = ", ".join(cols)
        nn = " AND ".join(f"{c} IS NOT NULL" + (f" AND {c} NOT IN ({', '.join(_quote(v) for v in unknown[c])})"
                                                 if c in unknown else "") for c in cols)
        extra, considered = con.sql(f"SELECT COALESCE(SUM(k - 1), 0), COALESCE(SUM(k), 0) FROM "
                                    f"(SELECT COUNT(*) AS k FROM {table} WHERE {nn} GROUP BY {gb}) AS g").fetchall()[0]
        what = "primary key" if check == "key" else "identifying fields"
        out.append(_row(table, "duplicates", check, gb, int(considered), int(extra),
                        f"rows repeating another row's {what} ({gb}); rows with an empty or unknown field are not compared"))
    return out


def _identity(con, table, cfg, reject_never_issued):
    ident = cfg["identity"]
    if not ident.get("ssn"):
        return []
    status = ssn_status_sql(ident["ssn"], reject_never_issued=reject_never_issued)
    first = f"UPPER(TRIM({ident['first']}))" if ident.get("first") else "CAST(NULL AS VARCHAR)"
    last = f"UPPER(TRIM({ident['last']}))" if ident.get("last") else "CAST(NULL AS VARCHAR)"
    dob = ident["dob"] if ident.get("dob") else "CAST(NULL AS DATE)"
    by_ssn, by_name, n = con.sql(f"""
        WITH r AS (
            SELECT {ident['ssn']} AS ssn, {status} AS st, {first} AS f, {last} AS l, {dob} AS d FROM {table}
        ),
        unlinked AS (SELECT DISTINCT f, l, d FROM r WHERE st <> 'valid'),
        rest AS (
            SELECT u.f FROM unlinked AS u
            WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.st = 'valid' AND r.f = u.f AND r.l = u.l
                                                AND r.d IS NOT DISTINCT FROM u.d)
        )
        SELECT (SELECT COUNT(DISTINCT ssn) FROM r WHERE st = 'valid'), (SELECT COUNT(*) FROM rest),
               (SELECT COUNT(*) FROM r)
    """).fetchall()[0]
    est = int(by_ssn) + int(by_name)
    return [_row(table, "identity", "distinct_usable_ssn", ident["ssn"], n, int(by_ssn),
                 "distinct SSNs that are neither missing, malformed nor placeholders", share=float("nan")),
            _row(table, "identity", "estimated_people", ident["ssn"], n, est,
                 f"{int(by_ssn):,} usable SSNs plus {int(by_name):,} people known only by name"
                 + (" and date of birth" if ident.get("dob") else "") + " (records without a usable SSN whose "
                 "name does not appear with one)", share=float("nan"))]


class _NoProgressBar:
    """Turn DuckDB's progress bar off for the profiler's queries and restore the caller's setting after.

    (In a notebook the bar is a widget that would end up in the output; other databases are left alone.)
    """

    def __init__(self, con):
        self.con, self.old = con, None

    def __enter__(self):
        try:
            self.old = self.con.sql("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]
            self.con.execute("SET enable_progress_bar = false")
        except (AttributeError, duckdb.Error):  # not a DuckDB connection, or no such setting
            self.old = None
        return self.con

    def __exit__(self, *exc):
        if self.old is not None:
            self.con.execute(f"SET enable_progress_bar = {'true' if self.old else 'false'}")
        return False


def profile_table(con, table: str, *, expected_through=None, dimensions=DIMENSIONS, key=None, duplicates=None,
                  reject_never_issued: bool = False) -> QualityReport:
    """Profile one agency table.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The caller's connection (``synthetic_data.connect``).
    table : str
        A table of the catalog (e.g. ``"snap"``).
    expected_through : date or str, optional
        The date the data should be complete through (e.g. :func:`window_end`); without it timeliness reports
        the last period but no lag.
    dimensions : iterable of str
        Which of :data:`DIMENSIONS` to run.
    key : list of str, optional
        Columns that must be unique; default the schema's primary key.
    duplicates : dict, optional
        Named groups of identifying columns; default the table's groups in ``data/sources.toml``.
    reject_never_issued : bool
        Count never-issued SSN areas as invalid (for real data; see the module notes).

    Returns
    -------
    QualityReport
    """
    meta = _catalog._check_table(table)
    bad = [d for d in dimensions if d not in DIMENSIONS]
    if bad or isinstance(dimensions, str):
        raise ValueError(f"dimensions must be a list drawn from {DIMENSIONS}, got {dimensions!r}")
    cols = [c["name"] for c in meta["columns"]]
    rules = _catalog.column_rules(table)
    cfg = _catalog.source_config(table)
    key = list(meta["primary_key"]) if key is None else list(key)
    groups = cfg["duplicates"] if duplicates is None else {str(k): list(v) for k, v in dict(duplicates).items()}
    for c in key + [c for g in groups.values() for c in g]:
        if c not in cols:
            raise ValueError(f"table {table!r} has no column {c!r}; its columns: {', '.join(cols)}")
    if expected_through is not None:
        _period_index(expected_through, "year")  # a clear error before any query runs
    with _NoProgressBar(con):
        n = int(con.sql(f"SELECT COUNT(*) FROM {table}").fetchall()[0][0])
        rows = [_row(table, "completeness", "row_count", "", n, n, "rows in the table", share=float("nan"))]
        if "completeness" in dimensions:
            rows += _completeness(con, table, cols, rules, n)
        if "validity" in dimensions:
            rows += _validity(con, table, cols, rules, cfg, n, reject_never_issued)
        if "timeliness" in dimensions:
            rows += _timeliness(con, table, cfg, expected_through)
        if "duplicates" in dimensions:
            rows += _duplicates(con, table, key, groups, cfg["unknown_values"])
        if "identity" in dimensions:
            rows += _identity(con, table, cfg, reject_never_issued)
    df = pd.DataFrame(rows, columns=_COLUMNS)
    df["share"] = df["share"].astype("float64")
    df["count"] = df["count"].astype("float64")
    return QualityReport(df)


def profile_sources(con, tables, *, expected_through=None, dimensions=DIMENSIONS,
                    reject_never_issued: bool = False) -> QualityReport:
    """Profile several tables (e.g. a track's ``source_tables``) into one :class:`QualityReport`."""
    if isinstance(tables, str):
        tables = [tables]
    tables = list(tables)
    if not tables:
        raise ValueError("profile_sources needs at least one table")
    report = None
    for t in tables:
        r = profile_table(con, t, expected_through=expected_through, dimensions=dimensions,
                          reject_never_issued=reject_never_issued)
        report = r if report is None else report + r
    return report


