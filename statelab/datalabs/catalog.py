"""A data catalog generated from the synthetic agencies' metadata, with coverage observed in the data.

Unit 3 of the Data Labs strand ("what we have and what we need"). Three layers:

* **metadata** — :func:`table_catalog` and :func:`field_catalog` read the generator's own schema metadata
  (through ``synthetic_data.codebook_dict``): agency, grain, keys, and each column's type, meaning, PII flag
  and validity rules. Nothing here is typed by hand, so the catalog cannot drift from the data.
* **observed coverage** — :func:`observed_coverage` (rows, first and last period, missing periods, states)
  and :func:`column_coverage` (null and unusable shares per column), computed on the caller's connection.
* **gaps** — :func:`gap_list` checks a case track's data needs against both and says which are available,
  partial or missing; :func:`data_inventory` assembles the unit's deliverable.

Per-table facts the schema does not hold (which column is the period, which columns identify a person) are in
``statelab/datalabs/data/sources.toml`` (:func:`source_config`); the data-quality profiler uses them too.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

import pandas as pd

import synthetic_data as sd

from . import deliverables as _dl
from .tracks import Track, get_track

__all__ = [
    "LEARNER_TABLES",
    "column_coverage",
    "column_rules",
    "data_inventory",
    "field_catalog",
    "gap_list",
    "observed_coverage",
    "period_counts",
    "period_expression",
    "period_label",
    "source_config",
    "table_catalog",
]

_FREQUENCIES = ("quarter", "month", "year")


@functools.cache
def _codebook() -> dict:
    return sd.codebook_dict(audience=("learner", "reference"))


#: Learner (agency) tables, in schema order; reference tables (ref_state...) are in the catalog too.
LEARNER_TABLES = tuple(n for n, t in sd.codebook_dict(audience=("learner",)).items())


def _check_table(table: str) -> dict:
    book = _codebook()
    if not isinstance(table, str) or table not in book:
        raise ValueError(f"unknown table {table!r}; the catalog has: {', '.join(book)}")
    return book[table]


@functools.cache
def _sources() -> dict:
    text = resources.files(__package__).joinpath("data", "sources.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def source_config(table: str) -> dict:
    """Period, identity, duplicate and unknown-value settings for ``table`` (see ``data/sources.toml``).

    Returns a dict with keys ``period`` (dict or None), ``identity`` (dict, possibly empty), ``duplicates``
    (dict name -> list of columns) and ``unknown_values`` (dict column -> list of codes).
    """
    _check_table(table)
    raw = _sources().get(table, {})
    return {"period": raw.get("period"), "identity": dict(raw.get("identity", {})),
            "duplicates": {k: list(v) for k, v in raw.get("duplicates", {}).items()},
            "unknown_values": {k: list(v) for k, v in raw.get("unknown_values", {}).items()}}


@functools.cache
def _patterns() -> dict:
    """(table, column) -> regular expression rule.

    ``synthetic_data.codebook_dict`` carries min/max/allowed but not the ``pattern`` rules, so they are read
    from the generator's public schema accessor.
    """
    from synthetic_data import table_schemas

    return {(t.name, c.name): c.pattern for t in table_schemas().values() for c in t.columns if c.pattern}


def column_rules(table: str) -> dict[str, dict]:
    """The validity rules of each column of ``table`` from the schema metadata.

    Returns
    -------
    dict
        column -> dict with any of ``min``, ``max``, ``allowed`` (list) and ``pattern`` (regular expression),
        plus ``nullable`` and ``pii``.
    """
    meta = _check_table(table)
    out = {}
    for c in meta["columns"]:
        rule = {"nullable": c["nullable"], "pii": c["pii"]}
        for key in ("min", "max", "allowed", "pattern"):
            if c.get(key) is not None:
                rule[key] = c[key]
        pattern = _patterns().get((table, c["name"]))
        if pattern and "pattern" not in rule:
            rule["pattern"] = pattern
        out[c["name"]] = rule
    return out


def _rule_text(rule: dict) -> str:
    parts = []
    if "allowed" in rule:
        parts.append("one of " + ", ".join(str(v) for v in rule["allowed"]))
    if "min" in rule:
        parts.append(f">= {rule['min']}")
    if "max" in rule:
        parts.append(f"<= {rule['max']}")
    if "pattern" in rule:
        parts.append(f"matches {rule['pattern']}")
    return "; ".join(parts)


def _tables_arg(tables) -> list[str]:
    if tables is None:
        return list(LEARNER_TABLES)
    if isinstance(tables, str):
        tables = [tables]
    tables = list(tables)
    for t in tables:
        _check_table(t)
    return tables


def table_catalog(tables=None) -> pd.DataFrame:
    """One row per table, from the schema metadata.

    Parameters
    ----------
    tables : str or list of str, optional
        Table names; default every learner table.

    Returns
    -------
    pandas.DataFrame
        ``table, title, agency, grain, key, joins_to, columns, pii_columns``.
    """
    rows = []
    for name in _tables_arg(tables):
        t = _check_table(name)
        rows.append({
            "table": name, "title": t["title"], "agency": t["agency"] or "public reference",
            "grain": t["grain"], "key": ", ".join(t["primary_key"]),
            "joins_to": ", ".join(sorted({fk["table"] for fk in t["foreign_keys"]})),
            "columns": len(t["columns"]), "pii_columns": sum(bool(c["pii"]) for c in t["columns"]),
        })
    return pd.DataFrame(rows, columns=["table", "title", "agency", "grain", "key", "joins_to", "columns",
                                       "pii_columns"])


def field_catalog(tables=None) -> pd.DataFrame:
    """One row per column (field-level documentation), from the schema metadata.

    Returns
    -------
    pandas.DataFrame
        ``table, column, type, nullable, pii, description, rules``.
    """
    rows = []
    for name in _tables_arg(tables):
        rules = column_rules(name)
        for c in _check_table(name)["columns"]:
            rows.append({"table": name, "column": c["name"], "type": c["type"], "nullable": c["nullable"],
                         "pii": c["pii"], "description": c["description"], "rules": _rule_text(rules[c["name"]])})
    return pd.DataFrame(rows, columns=["table", "column", "type", "nullable", "pii", "description", "rules"])


# ----------------------------------------------------------------------------------------- periods
def period_expression(period: dict) -> str:
    """Portable SQL giving each row's period index at the source's frequency.

    Quarter index = year * 4 + quarter - 1; month index = year * 12 + month - 1; year index = the year.
    """
    kind, freq = period.get("kind"), period.get("frequency")
    if freq not in _FREQUENCIES:
        raise ValueError(f"period frequency must be one of {_FREQUENCIES}, got {freq!r}")
    if kind == "quarter":
        if freq != "quarter":
            raise ValueError(f"a year/quarter period can only be read quarterly, not {freq!r}")
        return f"{period['year']} * 4 + {period['quarter']} - 1"
    if kind == "yyyymm":
        col = period["column"]
        month = f"FLOOR({col} / 100) * 12 + MOD({col}, 100) - 1"
        return {"month": month, "quarter": f"FLOOR(({month}) / 3)", "year": f"FLOOR({col} / 100)"}[freq]
    if kind == "date":
        col = period["column"]
        return {"quarter": f"EXTRACT(YEAR FROM {col}) * 4 + EXTRACT(QUARTER FROM {col}) - 1",
                "month": f"EXTRACT(YEAR FROM {col}) * 12 + EXTRACT(MONTH FROM {col}) - 1",
                "year": f"EXTRACT(YEAR FROM {col})"}[freq]
    if kind == "year":
        if freq != "year":
            raise ValueError(f"a year period can only be read yearly, not {freq!r}")
        return period["column"]
    raise ValueError(f"period kind must be quarter, yyyymm, date or year, got {kind!r}")


def period_label(index: int, frequency: str) -> str:
    """Human label of a period index: ``2019Q3``, ``2019-07`` or ``2019``."""
    index = int(index)
    if frequency == "quarter":
        return f"{index // 4}Q{index % 4 + 1}"
    if frequency == "month":
        return f"{index // 12}-{index % 12 + 1:02d}"
    if frequency == "year":
        return str(index)
    raise ValueError(f"frequency must be one of {_FREQUENCIES}, got {frequency!r}")


def period_counts(con, table: str, *, period: dict | None = None) -> pd.DataFrame:
    """Rows per period of ``table`` (``period_index, period, rows``), in period order.

    ``period`` defaults to the table's setting in ``sources.toml``; a table with no period raises ``ValueError``.
    """
    _check_table(table)
    period = period or source_config(table)["period"]
    if not period:
        raise ValueError(f"table {table!r} has no period column (it is a register, not a time series)")
    expr = period_expression(period)
    df = con.sql(f"SELECT {expr} AS period_index, COUNT(*) AS n_rows FROM {table} "
                 f"WHERE {expr} IS NOT NULL GROUP BY {expr} ORDER BY 1").df()
    df["period_index"] = df["period_index"].astype("int64")
    df["period"] = [period_label(i, period["frequency"]) for i in df["period_index"]]
    return df.rename(columns={"n_rows": "rows"})[["period_index", "period", "rows"]]


def observed_coverage(con, tables=None) -> pd.DataFrame:
    """What each table holds, observed in the data.

    Returns
    -------
    pandas.DataFrame
        ``table, rows, frequency, first_period, last_period, periods, missing_periods, states`` — periods
        present, periods absent between the first and the last, and distinct ``state_fips`` values (empty
        where the table has no state column).
    """
    rows = []
    for name in _tables_arg(tables):
        n = int(con.sql(f"SELECT COUNT(*) FROM {name}").fetchall()[0][0])
        cols = [c["name"] for c in _check_table(name)["columns"]]
        states = ""
        if "state_fips" in cols:
            found = [r[0] for r in con.sql(f"SELECT DISTINCT state_fips FROM {name} WHERE state_fips IS NOT NULL "
                                           "ORDER BY 1").fetchall()]
            states = ", ".join(found)
        row = {"table": name, "rows": n, "frequency": "", "first_period": "", "last_period": "", "periods": 0,
               "missing_periods": 0, "states": states}
        period = source_config(name)["period"]
        if period and n:
            pc = period_counts(con, name)
            span = int(pc["period_index"].max() - pc["period_index"].min() + 1)
            row.update(frequency=period["frequency"], first_period=pc["period"].iloc[0],
                       last_period=pc["period"].iloc[-1], periods=len(pc), missing_periods=span - len(pc))
        rows.append(row)
    return pd.DataFrame(rows, columns=["table", "rows", "frequency", "first_period", "last_period", "periods",
                                       "missing_periods", "states"])


def column_coverage(con, table: str) -> pd.DataFrame:
    """Completeness of every column of ``table``, observed in the data.

    Returns
    -------
    pandas.DataFrame
        ``table, column, rows, nulls, null_share, unusable, usable_share``. ``unusable`` counts nulls plus
        values that are filled in but unusable: documented "unknown" codes (``sources.toml``) and, for SSN
        columns, malformed values and placeholders (see :func:`statelab.identifiers.ssn_status_sql`).
    """
    from ..identifiers import ssn_status_sql

    meta = _check_table(table)
    cfg = source_config(table)
    cols = [c["name"] for c in meta["columns"]]
    ssn_col = cfg["identity"].get("ssn")
    parts = ["COUNT(*) AS n_rows"] + [f"COUNT({c}) AS nn_{i}" for i, c in enumerate(cols)]
    for i, c in enumerate(cols):
        if c == ssn_col:
            parts.append(f"SUM(CASE WHEN {ssn_status_sql(c)} IN ('malformed', 'placeholder') THEN 1 ELSE 0 END) AS bad_{i}")
        elif c in cfg["unknown_values"]:
            codes = ", ".join("'" + str(v).replace("'", "''") + "'" for v in cfg["unknown_values"][c])
            parts.append(f"SUM(CASE WHEN {c} IN ({codes}) THEN 1 ELSE 0 END) AS bad_{i}")
    got = con.sql(f"SELECT {', '.join(parts)} FROM {table}").df().iloc[0]
    n = int(got["n_rows"])
    rows = []
    for i, c in enumerate(cols):
        nulls = n - int(got[f"nn_{i}"])
        bad = int(got[f"bad_{i}"]) if f"bad_{i}" in got.index and pd.notna(got[f"bad_{i}"]) else 0
        rows.append({"table": table, "column": c, "rows": n, "nulls": nulls,
                     "null_share": nulls / n if n else float("nan"), "unusable": nulls + bad,
                     "usable_share": 1 - (nulls + bad) / n if n else float("nan")})
    return pd.DataFrame(rows, columns=["table", "column", "rows", "nulls", "null_share", "unusable", "usable_share"])


# --------------------------------------------------------------------------------------------- gaps
def gap_list(con, track: str | Track, *, max_missing_share: float = 0.05) -> pd.DataFrame:
    """Check a case track's data needs against the catalog and the observed coverage.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    track : str or Track
    max_missing_share : float
        A need whose worst column has more than this share of missing or unusable values is ``partial``.

    Returns
    -------
    pandas.DataFrame
        ``need, columns, status, worst_column, usable_share, note``; ``status`` is ``available``, ``partial``
        or ``gap`` (no agency file holds it, or a named column does not exist).
    """
    if not 0 <= max_missing_share < 1:
        raise ValueError(f"max_missing_share must be in [0, 1), got {max_missing_share!r}")
    t = track if isinstance(track, Track) else get_track(track)
    coverage: dict[str, pd.DataFrame] = {}
    rows = []
    for need in t.needs:
        row = {"need": need.need, "columns": ", ".join(need.columns), "status": "gap", "worst_column": "",
               "usable_share": float("nan"), "note": need.note}
        absent = []
        worst = (None, 2.0)
        for ref in need.columns:
            table, _, column = ref.partition(".")
            book = _codebook()
            if table not in book or column not in [c["name"] for c in book[table]["columns"]]:
                absent.append(ref)
                continue
            if table not in coverage:
                coverage[table] = column_coverage(con, table).set_index("column")
            share = float(coverage[table].loc[column, "usable_share"])
            if share < worst[1]:
                worst = (ref, share)
        if need.columns and not absent:
            row.update(worst_column=worst[0], usable_share=worst[1],
                       status="available" if worst[1] >= 1 - max_missing_share else "partial")
        elif absent:
            row["note"] = (row["note"] + " " if row["note"] else "") + f"Not in any agency file: {', '.join(absent)}."
        else:
            row["note"] = row["note"] or "No agency file holds this."
        rows.append(row)
    return pd.DataFrame(rows, columns=["need", "columns", "status", "worst_column", "usable_share", "note"])


def data_inventory(con, track: str | Track, *, team: str, notes=None, include_fields: bool = True,
                   max_missing_share: float = 0.05) -> _dl.Deliverable:
    """The unit 3 deliverable: sources, observed coverage, field documentation and the gap list.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    track : str or Track
        The case track; its ``source_tables`` are inventoried.
    team : str
        The team's name (shown in the header).
    notes : str or list of str, optional
        The team's own notes.
    include_fields : bool
        Include the field-level documentation of the PII and key columns.
    max_missing_share : float
        Passed to :func:`gap_list`.

    Returns
    -------
    statelab.datalabs.deliverables.Deliverable
    """
    t = track if isinstance(track, Track) else get_track(track)
    tables = list(t.source_tables)
    sources = table_catalog(tables)[["table", "agency", "grain", "key"]]
    cov = observed_coverage(con, tables)
    cov = cov.assign(periods=[f"{f} to {l}" if f else "(register)" for f, l in zip(cov["first_period"],
                                                                                    cov["last_period"])])
    coverage = cov[["table", "rows", "periods", "missing_periods", "states"]].rename(
        columns={"periods": "period covered", "missing_periods": "periods missing inside"})
    gaps = gap_list(con, t, max_missing_share=max_missing_share)
    gaps = gaps.assign(usable_share=[("" if pd.isna(v) else f"{100 * v:.1f}%") for v in gaps["usable_share"]])
    gaps = gaps[["need", "status", "worst_column", "usable_share", "note"]].rename(
        columns={"worst_column": "weakest field", "usable_share": "usable"})
    fields = None
    if include_fields:
        fc = field_catalog(tables)
        keys = {(r.table, k.strip()) for r in table_catalog(tables).itertuples() for k in r.key.split(",")}
        is_key = pd.Series([(a, b) in keys for a, b in zip(fc["table"], fc["column"])], index=fc.index)
        wanted = fc["pii"].astype(bool) | is_key
        fields = fc[wanted][["table", "column", "type", "pii", "description", "rules"]].reset_index(drop=True)
    return _dl.Deliverable(_dl.DATA_INVENTORY, {"team": team, "sources": sources, "coverage": coverage,
                                                "fields": fields, "gaps": gaps, "notes": notes}, track=t.name)
