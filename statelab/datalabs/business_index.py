"""Data Labs unit 6, procurement case: one business index across the state's three vendor systems.

:func:`build_business_index` links the comptroller's vendor file, the transportation contractor registry (EIN
stored as a number, so leading zeros are lost) and the certification registry (trade names, no EIN) into one
``business_key`` per firm: EINs repaired, names standardized (:func:`norm_name_sql`), records sharing an EIN or
a standardized name and ZIP code linked and closed transitively. :func:`estimate_business_error` lists the
signals of linkage error visible in the data; the comparison with the truth is
:func:`statelab.datalabs.truth_checks.business_index_quality`. Contract dollars per firm come from the
procurement pipeline (:func:`statelab.datalabs.pipelines.business_contracts`).

All SQL is portable (standard SQL only).
"""

from __future__ import annotations

import pandas as pd

from ._common import check_name, components, quiet

__all__ = ["norm_name_sql", "build_business_index", "estimate_business_error"]


def norm_name_sql(col: str) -> str:
    """Portable SQL normalizing a business name: upper case, no DBA part, punctuation, 'THE' or suffix."""
    n = f"UPPER(TRIM({col}))"
    n = f"CASE WHEN POSITION(' DBA ' IN {n}) > 0 THEN SUBSTRING({n}, 1, POSITION(' DBA ' IN {n}) - 1) ELSE {n} END"
    n = f"REPLACE(REPLACE(REPLACE({n}, '.', ''), ',', ''), 'L L C', 'LLC')"
    n = f"TRIM(CASE WHEN {n} LIKE 'THE %' THEN SUBSTRING({n}, 5) ELSE {n} END)"
    return (f"TRIM(CASE WHEN {n} LIKE '% LLC' OR {n} LIKE '% INC' THEN SUBSTRING({n}, 1, LENGTH({n}) - 4) "
            f"ELSE {n} END)")


@quiet
def build_business_index(con, *, prefix: str = "biz") -> pd.DataFrame:
    """Link the three procurement files into one ``business_key`` per firm.

    Steps (each a workspace table):

    ``{prefix}_records``
        every vendor record with a standard key: ``source_table`` (``vendor_comptroller``,
        ``vendor_dot`` or ``cert_registry``), ``source_key`` (vendor number, contractor id as text,
        certification number), ``ein9`` (nine digits: the comptroller's FEIN without the dash, the
        transportation registry's number left-padded with the zeros it lost; none for the
        registry), ``name_key`` (the name upper-cased without a DBA part, punctuation, a leading
        "THE" or a trailing LLC/INC) and ``zip``.
    ``{prefix}_links``
        pairs of records that share an EIN, or the same ``name_key`` and ZIP code.
    ``{prefix}_index``
        ``source_table, source_key, business_key`` (connected groups of linked records).

    Returns
    -------
    pandas.DataFrame
        Per source: records, records linked to another record, and the share linked.
    """
    p = check_name(prefix, "prefix")
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_records AS
        SELECT ROW_NUMBER() OVER (ORDER BY source_table, source_key) AS rec_id, r.*
        FROM (
            SELECT 'vendor_comptroller' AS source_table, vendor_number AS source_key,
                   REPLACE(fein, '-', '') AS ein9, {norm_name_sql('legal_name')} AS name_key,
                   legal_name AS name_as_recorded, zip
            FROM vendor_comptroller
            UNION ALL
            SELECT 'vendor_dot', CAST(contractor_id AS VARCHAR),
                   LPAD(CAST(tax_id AS VARCHAR), 9, '0'), {norm_name_sql('business_name')}, business_name, zip
            FROM vendor_dot
            UNION ALL
            SELECT 'cert_registry', certification_number, CAST(NULL AS VARCHAR),
                   {norm_name_sql('firm_name')}, firm_name, zip
            FROM cert_registry
        ) AS r
    """)
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_links AS
        SELECT a.rec_id AS rec_a, b.rec_id AS rec_b, 'ein' AS rule
        FROM {p}_records AS a JOIN {p}_records AS b ON a.ein9 = b.ein9 AND a.rec_id < b.rec_id
        UNION
        SELECT a.rec_id, b.rec_id, 'name_zip'
        FROM {p}_records AS a JOIN {p}_records AS b
          ON a.name_key = b.name_key AND a.zip = b.zip AND a.rec_id < b.rec_id
    """)
    recs = con.sql(f"SELECT rec_id FROM {p}_records ORDER BY rec_id").df()["rec_id"].to_numpy()
    links = con.sql(f"SELECT rec_a, rec_b FROM {p}_links").df()
    key = components(recs, links["rec_a"].to_numpy(), links["rec_b"].to_numpy())
    con.register("_dl_biz_df", pd.DataFrame({"rec_id": recs, "business_key": key}))
    con.sql(f"""
        CREATE OR REPLACE TABLE {p}_index AS
        SELECT r.source_table, r.source_key, k.business_key
        FROM {p}_records AS r JOIN _dl_biz_df AS k ON k.rec_id = r.rec_id
    """)
    con.unregister("_dl_biz_df")
    return con.sql(f"""
        WITH sizes AS (SELECT business_key, COUNT(*) AS n FROM {p}_index GROUP BY business_key)
        SELECT i.source_table, COUNT(*) AS records,
               CAST(SUM(CASE WHEN s.n > 1 THEN 1 ELSE 0 END) AS BIGINT) AS linked_records,
               AVG(CASE WHEN s.n > 1 THEN 1.0 ELSE 0.0 END) AS share_linked
        FROM {p}_index AS i JOIN sizes AS s ON s.business_key = i.business_key
        GROUP BY i.source_table ORDER BY i.source_table
    """).df()


@quiet
def estimate_business_error(con, *, prefix: str = "biz") -> pd.DataFrame:
    """Signals of linkage error in the business index, from the data alone.

    - ``ein_links_name_differs``: links made on EIN whose standardized names differ (a name change,
      a DBA, or a wrong EIN).
    - ``name_links_ein_conflict``: links made on name and ZIP where both records carry *different*
      EINs (almost surely two firms: a false link).
    - ``cert_unmatched``: certification records linked to no vendor record (firms that may be missed,
      or certified firms that never registered as vendors).

    Returns
    -------
    pandas.DataFrame
        ``signal, count, out_of, share``.
    """
    p = check_name(prefix, "prefix")
    rows = con.sql(f"""
        WITH l AS (
            SELECT k.rule, a.name_key AS name_a, b.name_key AS name_b, a.ein9 AS ein_a, b.ein9 AS ein_b
            FROM {p}_links AS k JOIN {p}_records AS a ON a.rec_id = k.rec_a JOIN {p}_records AS b ON b.rec_id = k.rec_b
        ),
        sizes AS (
            SELECT business_key, SUM(CASE WHEN source_table <> 'cert_registry' THEN 1 ELSE 0 END) AS vendor_records
            FROM {p}_index GROUP BY business_key
        )
        SELECT 'ein_links_name_differs' AS signal,
               (SELECT COUNT(*) FROM l WHERE rule = 'ein' AND name_a <> name_b) AS n,
               (SELECT COUNT(*) FROM l WHERE rule = 'ein') AS out_of
        UNION ALL
        SELECT 'name_links_ein_conflict',
               (SELECT COUNT(*) FROM l WHERE rule = 'name_zip' AND ein_a IS NOT NULL AND ein_b IS NOT NULL
                                         AND ein_a <> ein_b),
               (SELECT COUNT(*) FROM l WHERE rule = 'name_zip')
        UNION ALL
        SELECT 'cert_unmatched',
               (SELECT COUNT(*) FROM {p}_index AS i JOIN sizes AS s ON s.business_key = i.business_key
                WHERE i.source_table = 'cert_registry' AND s.vendor_records = 0),
               (SELECT COUNT(*) FROM {p}_index WHERE source_table = 'cert_registry')
    """).df()
    rows = rows.rename(columns={"n": "count"})
    rows["count"] = rows["count"].astype("int64")
    rows["out_of"] = rows["out_of"].astype("int64")
    rows["share"] = rows["count"] / rows["out_of"].where(rows["out_of"] > 0)
    return rows

