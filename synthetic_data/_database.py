"""The DuckDB files: the learner database and, apart from it, the truth database."""

import duckdb

from ._schema import tables

__all__ = ["build_databases", "LEARNER_DB", "TRUTH_DB"]

LEARNER_DB = "statelab.duckdb"
TRUTH_DB = "truth/truth.duckdb"

_EMPLOYER_QUARTER = """
-- QCEW-like monthly employment approximated from wage records: month 1 counts
-- workers also paid last quarter, month 3 those also paid next quarter.
WITH w AS (
  SELECT ui_account, ssn, year * 4 + quarter - 1 AS t, sum(wages) AS wages
  FROM parquet_rows WHERE ssn IS NOT NULL GROUP BY ALL
), flags AS (
  SELECT a.ui_account, a.t, a.wages, b.t IS NOT NULL AS had_prev, c.t IS NOT NULL AS has_next
  FROM w a
  LEFT JOIN w b ON b.ui_account = a.ui_account AND b.ssn = a.ssn AND b.t = a.t - 1
  LEFT JOIN w c ON c.ui_account = a.ui_account AND c.ssn = a.ssn AND c.t = a.t + 1
)
SELECT ui_account, CAST(t // 4 AS SMALLINT) AS year, CAST(t % 4 + 1 AS TINYINT) AS quarter,
       CAST(count(*) FILTER (WHERE had_prev) AS INTEGER) AS month1_emplvl,
       CAST(round((count(*) FILTER (WHERE had_prev) + count(*) FILTER (WHERE has_next)) / 2) AS INTEGER) AS month2_emplvl,
       CAST(count(*) FILTER (WHERE has_next) AS INTEGER) AS month3_emplvl,
       CAST(sum(wages) AS BIGINT) AS total_qtr_wages
FROM flags GROUP BY ALL ORDER BY ui_account, year, quarter
"""


def _sql_str(s):
    return "'" + str(s).replace("'", "''") + "'"


def _create(con, root, name, schema="main"):
    t = tables()[name]
    folder = "truth" if t.audience == "truth" else "parquet"
    path = str(root / folder / name / "**" / "*.parquet")
    con.execute(f"CREATE TABLE {schema}.{name} AS SELECT * FROM read_parquet({_sql_str(path)}, hive_partitioning = false)")
    comment = f"{t.title}. Grain: {t.grain}"
    con.execute(f"COMMENT ON TABLE {schema}.{name} IS {_sql_str(comment)}")
    for c in t.columns:
        con.execute(f"COMMENT ON COLUMN {schema}.{name}.{c.name} IS {_sql_str(c.description)}")


def build_databases(root, *, salt, truth=True, memory_limit="1GB"):
    """Create ``statelab.duckdb`` (learner tables + a ``hashed`` schema) and the truth database."""
    con = duckdb.connect(str(root / LEARNER_DB))
    try:
        con.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
        con.execute("SET preserve_insertion_order = true")
        for name, t in tables().items():
            if t.audience == "truth" or name == "employer_quarter":
                continue
            _create(con, root, name)
        # employer_quarter is derived from the wage records, then stored like any table.
        con.execute("CREATE TEMP VIEW parquet_rows AS SELECT * FROM main.ui_wage")
        con.execute(f"CREATE TABLE main.employer_quarter AS {_EMPLOYER_QUARTER}")
        t = tables()["employer_quarter"]
        con.execute(f"COMMENT ON TABLE main.employer_quarter IS {_sql_str(t.title + '. Grain: ' + t.grain)}")
        for c in t.columns:
            con.execute(f"COMMENT ON COLUMN main.employer_quarter.{c.name} IS {_sql_str(c.description)}")
        # Hashed variant: PII replaced by salted SHA-256 of normalized values, as members of a
        # collaborative do before sharing for privacy-preserving linkage.
        con.execute("CREATE SCHEMA hashed")
        for name, t in tables().items():
            if t.audience != "learner" or not any(c.pii for c in t.columns):
                continue
            cols = []
            for c in t.columns:
                if not c.pii:
                    cols.append(c.name)
                elif c.type == "date":
                    cols.append(f"CASE WHEN {c.name} IS NULL THEN NULL ELSE sha256({_sql_str(salt)} || strftime({c.name}, '%Y-%m-%d')) END AS {c.name}_hash")
                else:
                    cols.append(f"CASE WHEN {c.name} IS NULL THEN NULL ELSE sha256({_sql_str(salt)} || upper(trim({c.name}))) END AS {c.name}_hash")
            con.execute(f"CREATE TABLE hashed.{name} AS SELECT {', '.join(cols)} FROM main.{name}")
            con.execute(f"COMMENT ON TABLE hashed.{name} IS {_sql_str('Hashed-PII variant of ' + name + ': identifiers are salted SHA-256 hashes of upper-cased, trimmed values.')}")
        eq = con.sql("SELECT * FROM main.employer_quarter").to_arrow_table().cast(tables()["employer_quarter"].arrow_schema)
    finally:
        con.close()
    if truth:
        (root / "truth").mkdir(exist_ok=True)
        tcon = duckdb.connect(str(root / TRUTH_DB))
        try:
            tcon.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
            for name, t in tables().items():
                if t.audience == "truth":
                    _create(tcon, root, name)
        finally:
            tcon.close()
    return eq
