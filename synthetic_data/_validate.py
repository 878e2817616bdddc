"""Validation: column rules with pandera, keys and invariants with DuckDB.

pandera checks every Parquet file against the schema metadata (types, nulls,
ranges, allowed values, patterns); DuckDB checks what spans files: unique keys,
foreign keys, no activity after death, quarters inside the window.
"""

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from ._database import LEARNER_DB, TRUTH_DB
from ._errors import ValidationError
from ._schema import tables

__all__ = ["validate_dataset", "pandera_schema"]


def pandera_schema(table):
    """A pandera ``DataFrameSchema`` for one table of ``schema/tables.toml``."""
    import pandera.pandas as pa

    cols = {}
    for c in table.columns:
        checks = []
        if c.min is not None:
            checks.append(pa.Check.ge(c.min))
        if c.max is not None:
            checks.append(pa.Check.le(c.max))
        if c.allowed is not None:
            checks.append(pa.Check.isin(list(c.allowed)))
        if c.pattern is not None:
            checks.append(pa.Check.str_matches(c.pattern))
        cols[c.name] = pa.Column(nullable=c.nullable, checks=checks, required=True)
    return pa.DataFrameSchema(cols, strict=True, name=table.name)


def _check_files(root, truth):
    import pandera.errors

    failures = []
    for name, t in tables().items():
        if t.audience == "truth" and not truth:
            continue
        folder = root / ("truth" if t.audience == "truth" else "parquet") / name
        files = sorted(folder.rglob("*.parquet"))
        if not files:
            failures.append(f"{name}: no Parquet files in {folder}")
            continue
        schema = pandera_schema(t)
        for f in files:
            try:
                pf = pq.read_table(f)
            except Exception as exc:                        # a corrupt file: name it and go on
                failures.append(f"{name}: cannot read {f.relative_to(root)}: {exc}")
                continue
            want = {c.name: str(c.arrow_type) for c in t.columns}
            got = {fld.name: str(fld.type) for fld in pf.schema}
            if want != got:
                bad = [f"{k} ({got.get(k, 'missing')}, expected {v})" for k, v in want.items() if got.get(k) != v]
                extra = [k for k in got if k not in want]
                failures.append(f"{name}: {f.relative_to(root)} has wrong columns: {', '.join(bad + extra)}")
                continue
            try:
                schema.validate(pf.to_pandas(), lazy=True)
            except pandera.errors.SchemaErrors as exc:
                for _, row in exc.failure_cases.head(20).iterrows():
                    failures.append(f"{name}.{row['column']}: {row['check']} failed for value {row['failure_case']!r} "
                                    f"in {f.relative_to(root)}")
    return failures


def _q(con, sql):
    return con.execute(sql).fetchall()


def _check_database(root, truth):
    failures = []
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET file_search_path = '{root}'")
    con.execute(f"ATTACH '{root / LEARNER_DB}' AS statelab (READ_ONLY)")
    if truth:
        con.execute(f"ATTACH '{root / TRUTH_DB}' AS truth (READ_ONLY)")
    where = {n: ("truth.main" if t.audience == "truth" else "statelab.main") for n, t in tables().items()}
    for name, t in tables().items():
        if t.audience == "truth" and not truth:
            continue
        key = ", ".join(t.primary_key)
        dup = _q(con, f"SELECT count(*) FROM (SELECT {key} FROM {where[name]}.{name} GROUP BY ALL HAVING count(*) > 1)")[0][0]
        if dup:
            failures.append(f"{name}: primary key ({key}) has {dup} duplicated value(s)")
        for fk in t.foreign_keys:
            ref = tables()[fk["table"]]
            on = " AND ".join(f"a.{c} = b.{r}" for c, r in zip(fk["columns"], fk.get("ref_columns", ref.primary_key)))
            nn = " AND ".join(f"a.{c} IS NOT NULL" for c in fk["columns"])
            missing = _q(con, f"SELECT count(*) FROM {where[name]}.{name} a ANTI JOIN {where[fk['table']]}.{fk['table']} b ON {on} WHERE {nn}")[0][0]
            if missing:
                failures.append(f"{name}.{', '.join(fk['columns'])}: {missing} value(s) with no match in {fk['table']}")
    if truth:
        late = _q(con, """
            SELECT count(*) FROM truth.main.crosswalk x
            JOIN truth.main.person p USING (person_id)
            JOIN statelab.main.ui_wage w ON x.source_table = 'ui_wage' AND w.record_id = x.record_id
            WHERE p.death_date IS NOT NULL AND make_date(w.year, (w.quarter - 1) * 3 + 1, 1) > p.death_date""")[0][0]
        if late:
            failures.append(f"ui_wage: {late} wage record(s) dated after the worker's death (truth.person.death_date)")
        orphan = _q(con, "SELECT count(*) FROM truth.main.crosswalk x ANTI JOIN truth.main.person p USING (person_id)")[0][0]
        if orphan:
            failures.append(f"crosswalk.person_id: {orphan} record(s) point to no person")
    con.close()
    return failures


def validate_dataset(root, *, truth=None):
    """Check a dataset folder; raise :class:`ValidationError` listing every failure."""
    root = Path(root)
    if truth is None:
        truth = (root / TRUTH_DB).exists()
    failures = _check_files(root, truth)
    if not failures:
        failures += _check_database(root, truth)
    if failures:
        raise ValidationError(failures)
    return True
